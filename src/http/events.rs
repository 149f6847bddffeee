//! `GET /events`: Server-Sent Events with an `id:` on every event, a heartbeat comment every
//! 15 s, and `Last-Event-ID` replay from a bounded buffer.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

use crate::domain::audit::AuditKind;
use crate::http::session::CurrentUser;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    pub id: u64,
    pub kind: &'static str,
    pub data: String,
}

struct Inner {
    next_id: u64,
    buffer: VecDeque<LiveEvent>,
}

/// Publish/subscribe hub with a replay buffer.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<LiveEvent>,
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
    /// Cancelled at shutdown: every open stream ends, so shutdown need not wait for browsers.
    closing: CancellationToken,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self {
            tx,
            inner: Arc::new(Mutex::new(Inner {
                next_id: 1,
                buffer: VecDeque::with_capacity(capacity),
            })),
            capacity,
            closing: CancellationToken::new(),
        }
    }

    /// End every open event stream (at shutdown).
    pub fn close(&self) {
        self.closing.cancel();
    }

    pub fn publish(&self, kind: &'static str, data: String) -> u64 {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ev = LiveEvent {
            id: inner.next_id,
            kind,
            data,
        };
        inner.next_id += 1;
        if inner.buffer.len() == self.capacity {
            inner.buffer.pop_front();
        }
        inner.buffer.push_back(ev.clone());
        // Send under the lock so ids reach subscribers in order.
        let _ = self.tx.send(ev.clone());
        ev.id
    }

    /// A security event as a toast for open pages (fixed text, no user input).
    pub fn publish_audit(&self, kind: AuditKind) -> u64 {
        let body = serde_json::json!({ "kind": kind.as_str(), "message": AuditKind::label(kind.as_str()) });
        self.publish("audit", body.to_string())
    }

    /// Subscribe and collect what was missed after `last_id`, atomically.
    fn subscribe_from(
        &self,
        last_id: Option<u64>,
    ) -> (Vec<LiveEvent>, broadcast::Receiver<LiveEvent>) {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rx = self.tx.subscribe();
        let missed = match last_id {
            Some(last) => inner
                .buffer
                .iter()
                .filter(|e| e.id > last)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (missed, rx)
    }
}

pub const EVENTS_PATH: &str = "/events";

pub fn router() -> Router<AppState> {
    Router::new().route(EVENTS_PATH, get(events))
}

fn to_sse(e: &LiveEvent) -> Event {
    Event::default()
        .id(e.id.to_string())
        .event(e.kind)
        .data(e.data.clone())
}

async fn events(
    State(bus): State<EventBus>,
    _user: CurrentUser,
    headers: HeaderMap,
) -> impl IntoResponse {
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (missed, rx) = bus.subscribe_from(last_id);
    let high_water = missed.last().map(|e| e.id).or(last_id).unwrap_or(0);
    let replay = stream::iter(
        missed
            .into_iter()
            .map(|e| Ok::<Event, Infallible>(to_sse(&e))),
    );
    let live = BroadcastStream::new(rx).filter_map(move |r| async move {
        match r {
            Ok(e) if e.id > high_water => Some(Ok(to_sse(&e))),
            _ => None,
        }
    });
    // The first comment makes proxies flush headers at once.
    let hello = stream::once(async { Ok(Event::default().comment("connected")) });
    let stream = hello
        .chain(replay)
        .chain(live)
        .take_until(bus.closing.clone().cancelled_owned());
    let sse = Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    );
    // Tells nginx not to buffer this response even where `proxy_buffering off` was forgotten.
    ([(HeaderName::from_static("x-accel-buffering"), "no")], sse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_bounded_and_ordered() {
        let bus = EventBus::new(3);
        for _ in 0..5 {
            bus.publish("x", String::new());
        }
        let (missed, _rx) = bus.subscribe_from(Some(1));
        let ids: Vec<u64> = missed.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![3, 4, 5]);
        let (missed, _rx) = bus.subscribe_from(None);
        assert!(missed.is_empty());
    }
}
