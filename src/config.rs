//! Every setting is a command-line flag with an environment variable (clap derive + env).

use std::net::SocketAddr;

use clap::Args;
use ipnet::IpNet;

use crate::domain::permissions::Catalog;
use crate::domain::rate::{Limits, RatePolicy, TierDef, Tiers};
use crate::domain::secret::validate_prefix;

/// Settings shared by the server and every subcommand. All flags are `global`, so they may
/// stand before or after the subcommand.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Address the server listens on.
    #[arg(
        long,
        env = "KEYWARD_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Database: `sqlite://PATH` (created if missing), `sqlite::memory:`, or PostgreSQL
    /// 15+ as `postgres://USER:PASS@HOST:PORT/DB`.
    #[arg(
        long,
        env = "KEYWARD_DATABASE_URL",
        // `--help` would print a PostgreSQL password set in the environment.
        hide_env_values = true,
        default_value = "sqlite://keyward.db",
        global = true
    )]
    pub database_url: String,

    /// Prefix of newly issued secrets: 1-16 characters of `[a-z0-9_]`.
    #[arg(long, env = "KEYWARD_TOKEN_PREFIX", default_value = "kw_", value_parser = parse_prefix, global = true)]
    pub token_prefix: String,

    /// Reverse proxies whose `X-Forwarded-For` is trusted (comma-separated IPs or CIDRs).
    #[arg(long, env = "KEYWARD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net, global = true)]
    pub trusted_proxies: Vec<IpNet>,

    /// Public base URL (e.g. `https://keyward.example`); used in links and snippets, and an
    /// `https` URL makes the session cookie `Secure`.
    #[arg(long, env = "KEYWARD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Seconds to wait for in-flight requests after SIGINT/SIGTERM.
    #[arg(
        long,
        env = "KEYWARD_SHUTDOWN_TIMEOUT",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_timeout: u64,

    /// Requests per hour for `standard` tokens.
    #[arg(
        long,
        env = "KEYWARD_RATE_LIMIT_STANDARD",
        default_value_t = 1000,
        global = true
    )]
    pub rate_limit_standard: u32,

    /// Requests per hour for `admin` tokens.
    #[arg(
        long,
        env = "KEYWARD_RATE_LIMIT_ADMIN",
        default_value_t = 5000,
        global = true
    )]
    pub rate_limit_admin: u32,

    /// A named tier of rate limits, `NAME=60/minute,10000/day` (windows: second, minute,
    /// hour, day; a bare number is per hour). Repeatable; the environment variable takes
    /// several separated by `;`. May redefine `standard` and `admin`.
    #[arg(long = "rate-limit-tier", env = "KEYWARD_RATE_LIMIT_TIERS", value_delimiter = ';', value_parser = TierDef::parse, global = true)]
    pub rate_limit_tiers: Vec<TierDef>,

    /// Optional ceiling for a whole workspace: a number (per hour) or `N/window,…`.
    #[arg(long, env = "KEYWARD_RATE_LIMIT_WORKSPACE", value_parser = parse_workspace_limits, global = true)]
    pub rate_limit_workspace: Option<Limits>,

    /// The deployment's own API permissions, `code=Label` separated by commas.
    #[arg(
        long,
        env = "KEYWARD_PERMISSION_CATALOG",
        default_value = Catalog::DEFAULT_SPEC,
        value_parser = Catalog::parse_spec,
        global = true
    )]
    pub permission_catalog: Catalog,

    /// Milliseconds between usage flushes to the database (SIGTERM always flushes).
    #[arg(long, env = "KEYWARD_USAGE_FLUSH_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000), global = true)]
    pub usage_flush_ms: u64,

    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` works too.
    #[arg(long, env = "KEYWARD_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log lines as text or as JSON objects (one per line, for log shippers).
    #[arg(long, env = "KEYWARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Most connections open at once; further clients wait in the listen backlog.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_connections: u32,

    /// Seconds a client has to send a request's headers (idle keep-alive connections too).
    #[arg(long, env = "KEYWARD_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub header_timeout: u64,

    /// Seconds a request may take, body upload included, before it is answered 408.
    #[arg(long, env = "KEYWARD_REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub request_timeout: u64,

    /// Serve Prometheus metrics at `/metrics` on this separate address (off when unset).
    #[arg(long, env = "KEYWARD_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Forward-auth rules (TOML): which proxied request needs which permissions. Checked at
    /// start; reloaded on SIGHUP.
    #[arg(long, env = "KEYWARD_FORWARD_AUTH_RULES", global = true)]
    pub forward_auth_rules: Option<std::path::PathBuf>,
    /// Let webhooks reach loopback, private, link-local and unique-local addresses (refused
    /// by default, so an endpoint cannot probe the server's own network).
    #[arg(long, env = "KEYWARD_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,

    /// Key that seals webhook signing secrets at rest (any text; hashed to 256 bits). Give
    /// every server of an installation the same one. Without it, a key kept in the database.
    #[arg(
        long,
        env = "KEYWARD_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<String>,

    /// File holding the secret key (instead of `--secret-key`).
    #[arg(long, env = "KEYWARD_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<std::path::PathBuf>,

    /// Lead times, in days before a token expires, of `token.expiring` notices.
    #[arg(long, env = "KEYWARD_EXPIRY_NOTICE_DAYS", value_delimiter = ',', default_value = "30,7,1", value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub expiry_notice_days: Vec<u32>,

    /// SMTP server for the daily expiry digest: `smtp://host:port` (add `?tls=required` for
    /// STARTTLS) or `smtps://host:port`, with `user:password@` when it needs a login.
    #[arg(long, env = "KEYWARD_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Sender of the expiry digest, e.g. `keyward <keyward@acme.io>`.
    #[arg(long, env = "KEYWARD_SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,

    /// Milliseconds a webhook attempt may take (testing only).
    #[arg(
        long,
        env = "KEYWARD_WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000,
        hide = true,
        global = true
    )]
    pub webhook_timeout_ms: u64,

    /// Factor applied to the webhook retry schedule (testing only).
    #[arg(
        long,
        env = "KEYWARD_WEBHOOK_RETRY_SCALE",
        default_value_t = 1.0,
        hide = true,
        global = true
    )]
    pub webhook_retry_scale: f64,

    /// Milliseconds between expiry sweeps (testing only).
    #[arg(
        long,
        env = "KEYWARD_EXPIRY_SWEEP_MS",
        default_value_t = 60_000,
        hide = true,
        global = true
    )]
    pub expiry_sweep_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// A configuration for tests: in-memory database, random port, defaults elsewhere.
    pub fn for_tests() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: "sqlite::memory:".into(),
            token_prefix: "kw_".into(),
            trusted_proxies: Vec::new(),
            public_url: None,
            shutdown_timeout: 5,
            rate_limit_standard: 1000,
            rate_limit_admin: 5000,
            rate_limit_tiers: Vec::new(),
            rate_limit_workspace: None,
            permission_catalog: Catalog::default(),
            usage_flush_ms: 1000,
            log: "warn".into(),
            log_format: LogFormat::Text,
            metrics_listen: None,
            max_connections: 1024,
            header_timeout: 10,
            request_timeout: 30,
            forward_auth_rules: None,
            webhook_allow_private: false,
            secret_key: None,
            secret_key_file: None,
            expiry_notice_days: vec![30, 7, 1],
            smtp_url: None,
            smtp_from: None,
            webhook_timeout_ms: 10_000,
            webhook_retry_scale: 1.0,
            expiry_sweep_ms: 60_000,
        }
    }

    /// Base URL shown to people: the public URL when set, else the listen address.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The installation's tiers (no allocation: the bearer path resolves through it).
    pub fn tiers(&self) -> Tiers<'_> {
        Tiers {
            standard: self.rate_limit_standard,
            admin: self.rate_limit_admin,
            configured: &self.rate_limit_tiers,
        }
    }

    /// A token's limits: its tier's or its own.
    pub fn limits(&self, policy: &RatePolicy) -> Limits {
        self.tiers().resolve(policy)
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

fn parse_workspace_limits(s: &str) -> Result<Limits, String> {
    Limits::parse(s, true)
}

fn parse_prefix(s: &str) -> Result<String, String> {
    validate_prefix(s).map(|()| s.to_owned())
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    crate::domain::ip::parse_entry(s.trim())
}
