//! Who is calling: admins by session cookie, clients by IP; CSRF and sign-in throttling.

pub mod client_ip;
pub mod csrf;
pub mod csrf_cookie;
pub mod password;
pub mod session;
pub mod store;
pub mod throttle;

pub use client_ip::ClientIp;
pub use session::{CurrentAdmin, Member};

/// The value of the cookie `name` in a request's `Cookie` headers, as sent.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
