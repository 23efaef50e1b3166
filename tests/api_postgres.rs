//! The integration suite of `tests/api` again, every test on PostgreSQL (see
//! `tests/api/backend.rs` for where the server comes from). Tests of what only SQLite has
//! (its file, `backup`/`restore`, upgrades of old SQLite schemas) check PostgreSQL's answer
//! instead or return early, saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/account_sessions.rs"]
mod account_sessions;
#[path = "api/api.rs"]
mod api;
#[path = "api/backend.rs"]
mod backend;
#[path = "api/browser.rs"]
mod browser;
#[path = "api/browser_members.rs"]
mod browser_members;
#[path = "api/browser_tests.rs"]
mod browser_tests;
#[path = "api/channels.rs"]
mod channels;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/copy.rs"]
mod copy;
#[path = "api/digest.rs"]
mod digest;
#[path = "api/durability.rs"]
mod durability;
#[path = "api/examples.rs"]
mod examples;
#[path = "api/forward_auth.rs"]
mod forward_auth;
#[path = "api/foundation.rs"]
mod foundation;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/hostile.rs"]
mod hostile;
#[path = "api/instances.rs"]
mod instances;
#[path = "api/lane.rs"]
mod lane;
#[path = "api/leaks.rs"]
mod leaks;
#[path = "api/members.rs"]
mod members;
#[path = "api/observability.rs"]
mod observability;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/operations.rs"]
mod operations;
#[path = "api/rate_policies.rs"]
mod rate_policies;
#[path = "api/real.rs"]
mod real;
#[path = "api/receiver.rs"]
mod receiver;
#[path = "api/roll.rs"]
mod roll;
#[path = "api/roll_web.rs"]
mod roll_web;
#[path = "api/security_grant.rs"]
mod security_grant;
#[path = "api/security_sessions/mod.rs"]
mod security_sessions;
#[path = "api/shutdown.rs"]
mod shutdown;
#[path = "api/tokens_web.rs"]
mod tokens_web;
#[path = "api/usage.rs"]
mod usage;
#[path = "api/warm_cache.rs"]
mod warm_cache;
#[path = "api/webhooks.rs"]
mod webhooks;
#[path = "api/webhooks_web.rs"]
mod webhooks_web;

/// The database every test of this binary runs on.
pub const BACKEND: backend::Backend = backend::Backend::Postgres;
