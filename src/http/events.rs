//! `GET /events`: Server-Sent Events with an `id:` on every event, a heartbeat comment every
//! 15 s, and `Last-Event-ID` replay from the bus's bounded buffer. Streams end at shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use crate::events::{EventBus, LiveEvent};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;

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
    let stream = hello.chain(replay).chain(live).take_until(bus.closed());
    let sse = Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    );
    // Tells nginx not to buffer this response even where `proxy_buffering off` was forgotten.
    ([(HeaderName::from_static("x-accel-buffering"), "no")], sse)
}
