//! Opening a database by its URL — `sqlite://PATH`, `sqlite::memory:` or
//! `postgres://USER:PASS@HOST:PORT/DB` (`postgresql://` too) — and migrating it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::Db;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of a database URL, by its scheme.
    pub fn of_url(url: &str) -> Result<Backend, String> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(format!(
                "unsupported database URL {:?}: use sqlite://PATH, sqlite::memory: or \
                 postgres://USER:PASS@HOST:PORT/DB",
                redact(url)
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A URL as it may be shown: the password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Opens the pool. SQLite: WAL, `synchronous=NORMAL`, foreign keys on, a busy timeout so
/// writers queue instead of failing with "database is locked". PostgreSQL: a pool of 8.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    match Backend::of_url(url).map_err(|e| sqlx::Error::Configuration(e.into()))? {
        Backend::Sqlite => connect_sqlite(url).await,
        Backend::Postgres => {
            let options = PgConnectOptions::from_str(url)?.application_name("keyward");
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<Db, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Reads of the first 128 MiB through a shared mapping of the file, not a `pread` and a
        // copy into each connection's 2 MB page cache (README, "Decisions").
        .pragma("mmap_size", "134217728");
    // An in-memory database lives as long as its connections: keep exactly one open.
    let memory = url.contains(":memory:");
    let pool = SqlitePoolOptions::new()
        .max_connections(if memory { 1 } else { 4 })
        .min_connections(if memory { 1 } else { 0 })
        .idle_timeout((!memory).then_some(Duration::from_secs(600)))
        .max_lifetime(None)
        .connect_with(options)
        .await?;
    Ok(Db::Sqlite(pool))
}

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The embedded migrations of a backend (`migrations/sqlite`, `migrations/postgres`:
/// numbered alike, each version the same schema on both); each runs in its own transaction.
pub fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// Runs the embedded migrations.
pub async fn migrate(db: &Db) -> Result<(), MigrateError> {
    match db {
        Db::Sqlite(p) => SQLITE.run(p).await,
        Db::Postgres(p) => POSTGRES.run(p).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_carry_the_same_schema_versions() {
        let versions = |b| migrator(b).iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
    }

    #[test]
    fn urls_name_their_backend_and_shown_urls_hide_the_password() {
        assert_eq!(Backend::of_url("sqlite://k.db"), Ok(Backend::Sqlite));
        assert_eq!(Backend::of_url("sqlite::memory:"), Ok(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://a@h/d"), Ok(Backend::Postgres));
        assert_eq!(Backend::of_url("postgresql://a@h/d"), Ok(Backend::Postgres));
        let Err(err) = Backend::of_url("mysql://u:secret@h/d") else {
            panic!("mysql is no backend of keyward");
        };
        assert!(
            err.contains("u:***@h/d") && !err.contains("secret"),
            "{err}"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
    }
}
