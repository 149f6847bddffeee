//! The HTTP surface: one module per feature area, each with its own `router()`, assembled
//! here behind the edge service (`edge`: the hardening every request goes through).

pub mod ai_settings;
pub mod api;
pub mod assets;
pub mod auth;
pub mod cookies;
pub mod csrf;
pub mod dashboard;
pub mod edge;
pub mod error;
pub mod events;
pub mod format;
pub mod health;
pub mod library;
pub mod listens;
pub mod notices;
pub mod notifications;
pub mod pages;
pub mod playlists;
pub mod provider_auth;
pub mod providers;
pub mod review;
pub mod security_page;
pub mod server;
pub mod session;
pub mod state;
pub mod tasks;
pub mod timer;
pub mod vibes;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};

pub use crate::http::edge::App;
use crate::http::state::AppState;

/// The whole application: the routes behind the edge service (`edge`).
pub fn build_app(state: AppState) -> App {
    let bounded = Router::new()
        .merge(auth::router())
        .merge(dashboard::router())
        .merge(listens::router())
        .merge(api::router())
        .merge(library::router())
        .merge(security_page::router())
        .merge(notifications::router())
        .merge(providers::router())
        .merge(tasks::router())
        .merge(playlists::router())
        .merge(review::router())
        .merge(vibes::router())
        .merge(ai_settings::router())
        .merge(provider_auth::router())
        .merge(health::router())
        .merge(assets::router())
        .fallback(not_found);

    let routes = Router::new()
        .merge(events::router())
        .merge(bounded)
        .with_state(state.clone());
    App::new(state, routes)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/static/") {
        return assets::missing();
    }
    crate::http::error::AppError::NotFound.into_response()
}

/// Serve the app on `listener` until `shutdown` resolves; background maintenance runs
/// alongside. On shutdown, event streams end and open requests get a deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let maintenance = tokio::spawn(maintenance_loop(state.clone()));
    let limits = server::ServerLimits::new(
        state.config().request_timeout,
        state.config().security.trusted_proxies.clone(),
    );
    let events = state.core.events.clone();
    let app = build_app(state);
    let result = server::run(listener, app, limits, shutdown, move || events.close()).await;
    maintenance.abort();
    result
}

/// Prune expired sessions and OAuth states, old audit rows and idle limiter entries.
async fn maintenance_loop(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        state.limiter.prune();
        state.accounts.prune(std::time::Instant::now());
        if let Err(e) = crate::services::maintenance::prune(&state.core).await {
            tracing::warn!(error = %e, "pruning old rows failed");
        }
    }
}
