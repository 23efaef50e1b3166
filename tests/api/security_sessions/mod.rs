//! Review findings 2026-12, sessions and sign-in: redirects after sign-in, throttling races,
//! sessions that outlive a password change or sit in plain text at rest, anonymous writes,
//! caching of signed-in pages and oversized forms.

mod sessions;
mod signin;
