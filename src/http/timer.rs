//! One timer per connection instead of one per request.
//!
//! Every request needs two deadlines: hyper's for reading the head (slow clients), and the
//! edge's for the whole request. A fresh tokio sleep for each costs a clone of the runtime
//! handle, an insert into the timer wheel and a removal from it, per request. Deadlines on one
//! connection only move forward, so a connection keeps one tokio sleep per purpose and each
//! request's deadline is a [`LazySleep`] on it: the sleep stays armed at an earlier request's
//! deadline, and when that passes it is moved to the current one. A connection busy with
//! requests touches the timer wheel about once per timeout instead of twice per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// One connection's timer for one purpose. Cloning shares it.
///
/// Meant for one deadline at a time (a connection reads one request head, or serves one
/// request, at a time): all its sleeps wake the task that polled last.
#[derive(Clone, Default)]
pub struct ConnectionTimer(Arc<Mutex<Option<Pin<Box<Sleep>>>>>);

impl ConnectionTimer {
    /// A future that is ready at `deadline` (or soon after, as tokio's sleeps are).
    pub fn sleep_until(&self, deadline: Instant) -> LazySleep {
        LazySleep {
            timer: self.clone(),
            deadline,
        }
    }
}

/// A deadline on a [`ConnectionTimer`].
pub struct LazySleep {
    timer: ConnectionTimer,
    deadline: Instant,
}

impl Future for LazySleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let mut slot = self.timer.0.lock().unwrap_or_else(PoisonError::into_inner);
        let sleep = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        loop {
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if sleep.deadline() >= deadline => return Poll::Ready(()),
                // It was armed for an earlier request's deadline: move it to this one.
                Poll::Ready(()) => sleep.as_mut().reset(deadline),
            }
        }
    }
}

/// hyper's header-read timeout on the connection's timer.
impl hyper::rt::Timer for ConnectionTimer {
    fn sleep(&self, duration: std::time::Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.sleep_until(Instant::now() + duration))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ConnectionTimer::sleep_until(
            self,
            Instant::from_std(deadline),
        ))
    }
}

impl hyper::rt::Sleep for LazySleep {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_deadline_fires_at_its_own_time_on_a_shared_timer() {
        let timer = ConnectionTimer::default();
        let start = Instant::now();
        // The first request's deadline arms the timer at 10 s.
        let first = timer.sleep_until(start + Duration::from_secs(10));
        let mut first = Box::pin(first);
        assert!((&mut first).now_or_never().is_none());
        drop(first);

        // A later request, deadline 15 s: not over at 10 s, when the timer goes off for the
        // first request's deadline, but at 15 s.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let second = timer.sleep_until(start + Duration::from_secs(15));
        let fired = tokio::time::timeout(Duration::from_secs(60), second).await;
        assert!(fired.is_ok());
        let waited = Instant::now() - start;
        assert!(
            waited >= Duration::from_secs(15) && waited < Duration::from_secs(16),
            "{waited:?}"
        );

        // An earlier deadline than the one armed moves the timer back.
        let late = timer.sleep_until(Instant::now() + Duration::from_secs(30));
        assert!(Box::pin(late).now_or_never().is_none());
        let at = Instant::now();
        timer.sleep_until(at + Duration::from_secs(2)).await;
        let waited = Instant::now() - at;
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "{waited:?}"
        );

        // A deadline already past is ready at once.
        assert!(timer.sleep_until(start).now_or_never().is_some());
    }
}
