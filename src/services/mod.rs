//! Use cases shared by the web handlers, the background jobs and the CLI. Each takes the
//! `Core` and returns a typed outcome; none knows about HTTP. Handlers map the outcomes to
//! pages and `ServiceError` to a fixed error page.

pub mod ai;
pub mod audit;
pub mod credentials;
pub mod dashboard;
pub mod history;
pub mod keys;
pub mod library;
pub mod library_import;
pub mod link_flows;
pub mod links;
pub mod maintenance;
pub mod matching;
pub mod navidrome;
pub mod playlist_writeback;
pub mod playlists;
pub mod sessions;
pub mod sign_in;
pub mod vibes;

use crate::crypto::CryptoError;

/// A failure of Spotter itself (storage, encryption), never of the user's input or of an
/// outside service: those are outcomes.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("credential encryption failed: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<links::LinkError> for ServiceError {
    fn from(e: links::LinkError) -> Self {
        match e {
            links::LinkError::Db(e) => Self::Db(e),
            links::LinkError::Crypto(e) => Self::Crypto(e),
        }
    }
}
