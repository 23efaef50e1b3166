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
