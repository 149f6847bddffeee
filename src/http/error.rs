//! The one error type for request handlers. Users see a fixed message per variant; internal
//! detail (with its cause chain) goes to the log once, inside the request span (which carries
//! the request id). Service errors are mapped here, at the edge: the core knows nothing of HTTP.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::pages::ErrorPage;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("upstream service failed: {0}")]
    Upstream(&'static str),
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Marks a response whose body is already a proper page, so the fallback-page layer keeps it.
#[derive(Clone, Copy, Debug)]
pub struct RenderedPage;

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Db(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn public_message(&self) -> &'static str {
        match self {
            Self::BadRequest(m) | Self::Forbidden(m) | Self::Upstream(m) => m,
            Self::NotFound => "There is nothing at this address.",
            Self::TooManyRequests { .. } => "Too many attempts. Wait a minute and try again.",
            Self::Db(_) | Self::Internal(_) => {
                "Something went wrong on our side. The details are in the server log."
            }
        }
    }
}

impl From<crate::services::ServiceError> for AppError {
    fn from(e: crate::services::ServiceError) -> Self {
        use crate::services::ServiceError;
        match e {
            ServiceError::Db(e) => Self::Db(e),
            ServiceError::Crypto(e) => {
                Self::Internal(anyhow::Error::new(e).context("credential encryption"))
            }
            ServiceError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<crate::services::links::LinkError> for AppError {
    fn from(e: crate::services::links::LinkError) -> Self {
        crate::services::ServiceError::from(e).into()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Db(e) => tracing::error!(error = %e, "database error"),
            Self::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            _ => {}
        }
        let mut resp =
            ErrorPage::for_status(status, self.public_message()).into_response_with(status);
        if let Self::TooManyRequests { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type AppResult<T> = Result<T, AppError>;
