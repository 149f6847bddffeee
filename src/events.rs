//! The event bus: services and jobs publish, the `/events` stream reads. Every event gets an
//! increasing id and stays in a bounded replay buffer, so a reconnecting page misses nothing
//! recent. Payloads are fixed texts and counts, never outside text or secrets.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::domain::audit::AuditKind;

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

    /// Tell open pages about an audit event: what happened, who did it and from where (the
    /// toast shows all three as text, as the audit log does; never a secret).
    pub fn publish_audit(&self, kind: AuditKind, who: &str, from: &str, detail: &str) -> u64 {
        let body = serde_json::json!({
            "kind": kind.as_str(),
            "message": audit_message(kind, who, from, detail),
            "who": who,
            "where": from,
        });
        self.publish("audit", body.to_string())
    }

    /// The id of the newest event published so far (0 before the first). A page rendered from
    /// state read after this call can open its stream "after" it and miss nothing in between.
    pub fn last_id(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next_id
            - 1
    }

    /// Subscribe and collect what was missed after `last_id`, atomically.
    pub fn subscribe_from(
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

impl EventBus {
    /// Resolves when the bus is closed (at shutdown); open streams end with it.
    pub fn closed(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.closing.clone().cancelled_owned()
    }
}

/// "Signed in: demo from 192.0.2.7 (ListenBrainz)": the label, who, from where, the detail.
pub fn audit_message(kind: AuditKind, who: &str, from: &str, detail: &str) -> String {
    let mut text = AuditKind::label(kind.as_str()).to_owned();
    match (who.is_empty(), from.is_empty()) {
        (false, false) => text.push_str(&format!(": {who} from {from}")),
        (false, true) => text.push_str(&format!(": {who}")),
        (true, false) => text.push_str(&format!(" from {from}")),
        (true, true) => {}
    }
    if !detail.is_empty() {
        text.push_str(&format!(" ({detail})"));
    }
    text
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
