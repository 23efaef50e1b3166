//! One integration-test binary: the real app on a random port with a fresh SQLite database.
//! `api_postgres` runs the same modules on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account_sessions;
mod api;
mod backend;
mod browser;
mod browser_members;
mod browser_tests;
mod channels;
mod cli;
mod copy;
mod digest;
mod durability;
mod examples;
mod forward_auth;
mod foundation;
mod helpers;
mod hostile;
mod instances;
mod lane;
mod leaks;
mod members;
mod observability;
mod openapi;
mod operations;
mod rate_policies;
mod real;
mod receiver;
mod roll;
mod roll_web;
mod security_grant;
mod security_sessions;
mod shutdown;
mod tokens_web;
mod usage;
mod warm_cache;
mod webhooks;
mod webhooks_web;

/// The database every test of this binary runs on.
pub const BACKEND: backend::Backend = backend::Backend::Sqlite;
