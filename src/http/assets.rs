//! Our own static files, embedded in the binary (no CDN, no build step) and cache-busted by a
//! content hash in the `?v=` query.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::state::AppState;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut all = Vec::new();
    for a in ASSETS {
        all.extend_from_slice(a.body);
    }
    crate::crypto::sha256_hex(&all)[..12].to_owned()
});

/// Content hash of all assets, for `?v=` cache busting.
pub fn version() -> &'static str {
    VERSION.as_str()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{name}", get(serve))
}

/// A missing static file: a short plain-text 404 (a script or stylesheet tag gets no HTML page).
pub fn missing() -> Response {
    let mut resp = (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not found\n",
    )
        .into_response();
    resp.extensions_mut()
        .insert(crate::http::error::RenderedPage);
    resp
}

async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return missing();
    };
    let mut resp = asset.body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    resp
}
