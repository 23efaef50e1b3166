//! Every SQL statement lives here, one file per table group. Handlers call these functions.

pub mod admins;
pub mod audit;
pub mod channels;
pub mod server_keys;
pub mod sessions;
pub mod tokens;
pub mod usage;
pub mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub type Db = sqlx::SqlitePool;

/// Opens the pool: WAL, `synchronous=NORMAL`, foreign keys on, a busy timeout so writers
/// queue instead of failing with "database is locked".
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    // An in-memory database lives as long as its connections: keep exactly one open.
    let memory = url.contains(":memory:");
    SqlitePoolOptions::new()
        .max_connections(if memory { 1 } else { 4 })
        .min_connections(if memory { 1 } else { 0 })
        .idle_timeout((!memory).then_some(Duration::from_secs(600)))
        .max_lifetime(None)
        .connect_with(options)
        .await
}

/// The embedded migrations (`migrations/`); each runs in its own transaction.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Runs the embedded migrations.
pub async fn migrate(db: &Db) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(db).await
}

/// Whether an error is a UNIQUE constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
