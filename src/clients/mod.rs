//! One module per outside service. Every client is built by `http_client` (S16): timeouts,
//! a fixed User-Agent, rustls, and no redirects unless a caller opts in.

pub mod lastfm;
pub mod listenbrainz;
pub mod navidrome;
pub mod spotify;

use std::time::Duration;

pub const USER_AGENT: &str = concat!(
    "Spotter/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// Total timeout of a call to Spotify, Last.fm or ListenBrainz.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The single outbound client builder.
pub fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}
