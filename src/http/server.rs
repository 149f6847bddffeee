//! The accept loop: HTTP/1.1 connections with a header-read timeout, a cap on concurrent
//! connections per client address, and a shutdown that ends event streams and has a deadline.
//!
//! axum's own `serve` offers none of these knobs, so connections are driven by hyper directly.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;

use crate::http::edge::App;
use crate::http::timer::ConnectionTimer;

/// Open connections one client address may hold at once. Browsers open about six per host;
/// trusted proxies are exempt, since every proxied client arrives from their address.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 32;
/// How long running requests get to finish after a shutdown signal; container runtimes
/// usually wait 10 s before they kill.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(8);
/// The longest a client may take to send a request's headers (also the keep-alive idle limit).
const MAX_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the accept loop needs to know besides the app.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub trusted_proxies: Vec<IpNet>,
    pub max_connections_per_client: usize,
    pub shutdown_deadline: Duration,
}

impl ServerLimits {
    pub fn new(request_timeout: Duration, trusted_proxies: Vec<IpNet>) -> Self {
        Self {
            header_read_timeout: request_timeout.min(MAX_HEADER_READ_TIMEOUT),
            trusted_proxies,
            max_connections_per_client: MAX_CONNECTIONS_PER_CLIENT,
            shutdown_deadline: SHUTDOWN_DEADLINE,
        }
    }
}

/// Counts open connections per client address.
#[derive(Clone, Default)]
struct ConnectionCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted connection; dropping it gives the slot back.
struct ConnectionSlot {
    counts: ConnectionCounts,
    ip: IpAddr,
}

impl ConnectionCounts {
    fn acquire(&self, ip: IpAddr, max: usize) -> Option<ConnectionSlot> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Accept connections until `shutdown` resolves, then stop accepting, call `on_shutdown` (which
/// ends the event streams), and give open requests until the deadline.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: App,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce(),
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let counts = ConnectionCounts::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off a little instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let ip = peer.ip();
        let slot = if limits.trusted_proxies.iter().any(|n| n.contains(&ip)) {
            None
        } else {
            match counts.acquire(ip, limits.max_connections_per_client) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(client_ip = %ip, "connection refused: too many open connections from this address");
                    drop(stream);
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app.for_connection(peer);
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(ConnectionTimer::default())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    on_shutdown();
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_secs = limits.shutdown_deadline.as_secs(),
            "requests still open at the shutdown deadline were cut off"
        );
    }
    Ok(())
}
