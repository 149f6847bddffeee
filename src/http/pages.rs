//! Page structs (askama, autoescaped) and the shared page context.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::http::assets;
use crate::http::error::RenderedPage;

/// What every page needs: who is signed in, the CSRF token for its forms, asset URLs.
#[derive(Debug, Clone, Default)]
pub struct PageCtx {
    pub username: Option<String>,
    pub csrf_token: String,
    pub asset_version: &'static str,
    pub app_version: &'static str,
    /// Which nav entry is active.
    pub section: &'static str,
}

impl PageCtx {
    pub fn anonymous(csrf_token: String) -> Self {
        Self {
            username: None,
            csrf_token,
            asset_version: assets::version(),
            app_version: env!("CARGO_PKG_VERSION"),
            section: "",
        }
    }

    pub fn signed_in(username: String, csrf_token: String, section: &'static str) -> Self {
        Self {
            username: Some(username),
            csrf_token,
            asset_version: assets::version(),
            app_version: env!("CARGO_PKG_VERSION"),
            section,
        }
    }
}

/// Render a template into an HTML response with the given status, marked as a real page.
pub fn render<T: Template>(tpl: &T, status: StatusCode) -> Response {
    match tpl.render() {
        Ok(body) => page_response(body, status),
        Err(e) => {
            tracing::error!(error = %e, "template render failed");
            let mut resp = (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Internal error",
            )
                .into_response();
            resp.extensions_mut().insert(RenderedPage);
            resp
        }
    }
}

/// An already rendered page as an HTML response, marked as a real page.
pub fn page_response(body: impl Into<axum::body::Body>, status: StatusCode) -> Response {
    let mut resp = (status, Html(body.into())).into_response();
    resp.extensions_mut().insert(RenderedPage);
    resp
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub ctx: PageCtx,
    pub status: u16,
    pub title: &'static str,
    pub message: &'static str,
    /// Where the page's one button leads (our own URLs only).
    pub link_href: String,
    pub link_label: &'static str,
}

impl ErrorPage {
    pub fn for_status(status: StatusCode, message: &'static str) -> Self {
        Self {
            ctx: PageCtx::anonymous(String::new()),
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
            link_href: "/".to_owned(),
            link_label: "Go to the dashboard",
        }
    }

    /// Point the page's button somewhere else than the dashboard.
    #[must_use]
    pub fn with_link(mut self, href: String, label: &'static str) -> Self {
        self.link_href = href;
        self.link_label = label;
        self
    }

    pub fn into_response_with(self, status: StatusCode) -> Response {
        let parts = ErrorParts {
            status,
            message: self.message,
            link_href: self.link_href.clone(),
            link_label: self.link_label,
        };
        let mut resp = render(&self, status);
        resp.extensions_mut().insert(parts);
        resp
    }

    /// The fixed message for a bare error status produced by a layer or a rejection.
    pub fn default_message(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "The request could not be understood. Go back and try again.",
            401 => "Sign in to continue.",
            403 => "This request was refused. Reload the page and try again.",
            404 => "There is nothing at this address.",
            405 => "This address does not accept that kind of request.",
            408 => "The request took too long. Try again.",
            413 => "What you sent is too large.",
            415 => "This form was sent in a format Spotter does not accept.",
            422 => "Some fields of the form are missing or invalid. Go back and check them.",
            429 => "Too many attempts. Wait a minute and try again.",
            _ if status.is_server_error() => {
                "Something went wrong on our side. The details are in the server log."
            }
            _ => "The request could not be completed.",
        }
    }
}

/// What an error page said, kept on its response so that a layer can render it again inside
/// the signed-in frame (with the navigation) when the browser is signed in.
#[derive(Debug, Clone)]
pub struct ErrorParts {
    status: StatusCode,
    message: &'static str,
    link_href: String,
    link_label: &'static str,
}

impl ErrorParts {
    pub fn render_signed_in(self, username: String, csrf_token: String) -> Response {
        let page = ErrorPage {
            ctx: PageCtx::signed_in(username, csrf_token, ""),
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            message: self.message,
            link_href: self.link_href,
            link_label: self.link_label,
        };
        render(&page, self.status)
    }
}
