//! One module per outside service, all built on `http`: one client builder with
//! timeouts, a fixed User-Agent, rustls and no redirects; base URLs that keep a sub-path; one
//! classification of failed calls; and response bodies read under a size cap.

pub mod http;
pub mod lastfm;
pub mod listenbrainz;
pub mod llm;
pub mod navidrome;
pub mod navidrome_catalogue;
pub mod spotify;

pub use http::{PROVIDER_TIMEOUT, USER_AGENT, http_client};
