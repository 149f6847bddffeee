//! `GET /events`: Server-Sent Events with an `id:` on every event, a heartbeat comment every
//! 15 s, and `Last-Event-ID` replay from the bus's bounded buffer. Streams end at shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use crate::events::LiveEvent;
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services;

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

/// What the live part of a stream does with one bus event.
enum Step {
    Send(Event),
    Skip,
    /// This stream's session was just revoked: end it, so the page's script reconnects, is
    /// refused, and reloads into the sign-in page that says why.
    End,
}

fn is_revocation(e: &LiveEvent) -> bool {
    e.kind == "audit"
        && (e.data.contains("\"session_revoked\"")
            || e.data.contains("\"sessions_revoked_others\""))
}

async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> impl IntoResponse {
    let bus = state.core.events.clone();
    // A reconnecting browser sends `Last-Event-ID`; a page's first connection may name the
    // event it was rendered at (`?after=N`), so what happened in between is replayed too.
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| after_param(query.as_deref()));
    let (missed, rx) = bus.subscribe_from(last_id);
    let high_water = missed.last().map(|e| e.id).or(last_id).unwrap_or(0);
    let replay = stream::iter(
        missed
            .into_iter()
            .map(|e| Ok::<Event, Infallible>(to_sse(&e))),
    );
    let core = state.core.clone();
    let live = BroadcastStream::new(rx)
        .then(move |r| {
            let core = core.clone();
            let session = user.session_id.clone();
            let user_id = user.user_id;
            async move {
                match r {
                    Ok(e) if e.id > high_water => {
                        if is_revocation(&e) {
                            let alive = matches!(
                                services::sessions::resolve(&core, &session, user_id).await,
                                Ok(Some(_))
                            );
                            if !alive {
                                return Step::End;
                            }
                        }
                        Step::Send(to_sse(&e))
                    }
                    _ => Step::Skip,
                }
            }
        })
        .take_while(|step| std::future::ready(!matches!(step, Step::End)))
        .filter_map(|step| {
            std::future::ready(match step {
                Step::Send(e) => Some(Ok(e)),
                Step::Skip | Step::End => None,
            })
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

/// The `after` query parameter: an event id, or nothing when absent or malformed.
fn after_param(query: Option<&str>) -> Option<u64> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "after")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
}
