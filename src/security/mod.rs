//! Session tokens, CSRF, client identity behind proxies, and the login rate limiter.

pub mod client_ip;
pub mod csrf;
pub mod rate_limit;
pub mod return_to;
pub mod session_cache;
pub mod session_token;
