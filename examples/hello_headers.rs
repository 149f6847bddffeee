//! The bare axum "hello" of `examples/hello.rs`, sending the response headers every Spotter
//! response carries (the security headers and a request id). `benches/load.sh` runs it next to
//! hello: the difference between the two is what those headers cost on their own, the part of
//! the budget `/healthz` cannot win back.

use axum::Router;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

async fn hello() -> Response {
    let mut resp = "hello".into_response();
    let headers = resp.headers_mut();
    spotter::http::edge::security_headers(headers, false, false);
    headers.insert(
        "x-request-id",
        HeaderValue::from_static("9f3a1c2b4d5e-0000002a"),
    );
    resp
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18082);
    let app = Router::new().route("/", get(hello));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
