//! Operating the database: the schema version check made before anything opens it for
//! writing, the server's lock on it, and `keyward backup` / `keyward restore` (SQLite; on
//! PostgreSQL those are pg_dump's and pg_restore's job).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::LazyLock;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};

use crate::BoxError;
use crate::db::{Backend, migrator};
use crate::domain::{now, token::rfc3339};

mod postgres;

/// What `backup` and `restore` say on PostgreSQL (exit code 2).
pub const USE_PG_DUMP: &str = "keyward backup and restore work on SQLite files; on PostgreSQL use \
     pg_dump (e.g. `pg_dump -Fc -f keyward.dump DBNAME`) and pg_restore";

/// The newest migration this binary carries: the schema version it writes.
pub fn schema_version() -> i64 {
    migrator(Backend::Sqlite)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// `keyward --version`: the crate version and the schema version.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} (schema version {})",
        env!("CARGO_PKG_VERSION"),
        schema_version()
    )
});

/// The file behind a `sqlite://PATH` / `sqlite:PATH` URL; `None` for an in-memory database.
pub fn database_path(url: &str) -> Option<PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

async fn open_read_only(path: &Path) -> Result<SqliteConnection, BoxError> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()).into())
}

/// Migration versions recorded in a database; empty when it has never been migrated.
async fn applied_versions(conn: &mut SqliteConnection) -> Result<Vec<i64>, BoxError> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_table {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Refuses a database with a migration this binary does not know (written by a newer
/// keyward), naming both versions. Reads only: the file is left exactly as it was.
async fn check_versions(conn: &mut SqliteConnection, path: &Path) -> Result<i64, BoxError> {
    let applied = applied_versions(conn).await?;
    refuse_newer(&applied, &path.display().to_string())
}

/// The schema version of a database with these migrations applied, or the refusal of one
/// written by a newer keyward (`what` names the database).
pub(crate) fn refuse_newer(applied: &[i64], what: &str) -> Result<i64, BoxError> {
    let known = schema_version();
    let db_version = applied.iter().copied().max().unwrap_or(0);
    let unknown = applied
        .iter()
        .any(|v| !migrator(Backend::Sqlite).iter().any(|m| m.version == *v));
    if unknown {
        return Err(format!(
            "{what} has schema version {db_version}, but this keyward ({}) knows schema versions \
             up to {known}: the database was written by a newer keyward. Run that release again, \
             or restore a backup taken before the upgrade.",
            env!("CARGO_PKG_VERSION"),
        )
        .into());
    }
    Ok(db_version)
}

/// Run before the pool opens: a newer database makes startup fail without touching it.
pub async fn check_schema(database_url: &str) -> Result<(), BoxError> {
    if Backend::of_url(database_url)? == Backend::Postgres {
        return postgres::check_schema(database_url).await;
    }
    let Some(path) = database_path(database_url) else {
        return Ok(());
    };
    if !path.exists() {
        return Ok(());
    }
    let mut conn = open_read_only(&path).await?;
    let result = check_versions(&mut conn, &path).await;
    conn.close().await?;
    result.map(|_| ())
}

/// Held by a running server on SQLite: an exclusive advisory lock (`flock`) on the database
/// file (SQLite's own locks are POSIX record locks, which `flock` does not touch). On
/// PostgreSQL there is none: any number of servers may share the database.
pub struct ServerLock {
    _file: File,
}

/// Takes the server lock, or says which server holds it.
pub async fn lock_database(database_url: &str) -> Result<Option<ServerLock>, BoxError> {
    if Backend::of_url(database_url)? == Backend::Postgres {
        return Ok(None);
    }
    let Some(path) = database_path(database_url) else {
        return Ok(None);
    };
    let file = File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServerLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another keyward server is using {}; stop it first",
            path.display()
        )
        .into()),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", path.display()).into())
        }
    }
}

/// What a check of a database file found.
pub struct Summary {
    pub bytes: u64,
    pub tokens: i64,
    pub schema: i64,
}

/// `PRAGMA integrity_check`, schema version and token count of a database file.
pub async fn inspect(path: &Path) -> Result<Summary, BoxError> {
    let mut conn = open_read_only(path).await?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("{} is not a usable SQLite database: {e}", path.display()))?;
    if integrity != ["ok"] {
        return Err(format!(
            "{} fails the integrity check: {}",
            path.display(),
            integrity.join("; ")
        )
        .into());
    }
    let schema = check_versions(&mut conn, path).await?;
    if schema == 0 {
        return Err(format!("{} is not a keyward database", path.display()).into());
    }
    let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(Summary {
        bytes: std::fs::metadata(path)?.len(),
        tokens,
        schema,
    })
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn stamp() -> String {
    rfc3339(now()).replace([':', '-'], "")
}

/// `keyward backup --to FILE`: `VACUUM INTO` a temporary file beside the target (a consistent
/// snapshot; the server keeps serving reads and writes), check it, then move it into place.
/// An existing FILE is never overwritten.
pub async fn backup(db: &crate::db::Db, to: &Path) -> Result<Summary, BoxError> {
    let crate::db::Db::Sqlite(db) = db else {
        return Err(USE_PG_DUMP.into());
    };
    if to.exists() {
        return Err(format!("{} already exists; choose a new file name", to.display()).into());
    }
    let partial = beside(to, &format!(".partial-{}", stamp()));
    let target = partial
        .to_str()
        .ok_or("the backup path must be valid UTF-8")?
        .to_owned();
    let written = sqlx::query("VACUUM INTO ?")
        .bind(&target)
        .execute(db)
        .await
        .map_err(|e| format!("cannot write {}: {e}", to.display()));
    let checked = match written {
        Ok(_) => match strip_live_secrets(&partial).await {
            Ok(()) => inspect(&partial).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    };
    let result = checked.and_then(|summary| {
        // A hard link never replaces an existing file, unlike rename.
        std::fs::hard_link(&partial, to)
            .map_err(|e| format!("cannot create {}: {e}", to.display()))?;
        Ok(summary)
    });
    let _ = std::fs::remove_file(&partial);
    result
}

/// Deletes the sessions and the live server keys from a backup copy, overwriting their bytes: a
/// backup signs nobody in and signs no form, and a restore brings back no session. The key
/// webhook secrets are sealed with stays, as `keyward copy` keeps it: the backup holds the
/// sealed secrets, which a restore could not open without it.
async fn strip_live_secrets(path: &Path) -> Result<(), BoxError> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Delete)
        .pragma("secure_delete", "on");
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    crate::db::sessions::delete_all(crate::db::Conn::Sqlite(&mut conn)).await?;
    crate::db::server_keys::delete_live(crate::db::Conn::Sqlite(&mut conn)).await?;
    conn.close().await?;
    Ok(())
}

/// What `restore` did.
pub struct Restored {
    pub summary: Summary,
    /// Where the database that was replaced now lives (with its `-wal`, if it had one).
    pub previous: Option<PathBuf>,
}

/// `keyward restore --from FILE`: checks the file (integrity, a keyward schema this binary
/// knows), refuses while a server holds the database, keeps the current database beside it
/// under a new name, and copies the backup into place. On any failure the current database is
/// put back.
pub async fn restore(database_url: &str, from: &Path) -> Result<Restored, BoxError> {
    if Backend::of_url(database_url)? == Backend::Postgres {
        return Err(USE_PG_DUMP.into());
    }
    let path = database_path(database_url)
        .ok_or("restore needs a database file, not an in-memory database")?;
    inspect(from).await?;
    let _lock = if path.exists() {
        lock_database(database_url)
            .await
            .map_err(|e| format!("{e} (restore refused)"))?
    } else {
        None
    };
    let incoming = beside(&path, &format!(".restoring-{}", stamp()));
    std::fs::copy(from, &incoming).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
    File::open(&incoming)?.sync_all()?;
    let previous = if path.exists() {
        let kept = beside(&path, &format!(".before-restore-{}", stamp()));
        move_database(&path, &kept)?;
        Some(kept)
    } else {
        None
    };
    let placed = std::fs::rename(&incoming, &path)
        .map_err(BoxError::from)
        .and_then(|()| Ok(File::open(&path)?.sync_all()?));
    let checked = match placed {
        Ok(()) => inspect(&path).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(summary) => Ok(Restored { summary, previous }),
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            if let Some(kept) = &previous {
                let _ = std::fs::remove_file(&path);
                move_database(kept, &path)?;
            }
            Err(format!("restore failed, the previous database is back in place: {e}").into())
        }
    }
}

/// Renames a database with its write-ahead log, so nothing committed is left behind.
fn move_database(from: &Path, to: &Path) -> Result<(), BoxError> {
    std::fs::rename(from, to)?;
    let wal = beside(from, "-wal");
    if wal.exists() {
        std::fs::rename(&wal, beside(to, "-wal"))?;
    }
    let _ = std::fs::remove_file(beside(from, "-shm"));
    Ok(())
}

/// Bytes as a short human figure (`1.2 MiB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_path_reads_file_urls_only() {
        assert_eq!(
            database_path("sqlite://keyward.db"),
            Some(PathBuf::from("keyward.db"))
        );
        assert_eq!(
            database_path("sqlite:///var/lib/keyward/keyward.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/keyward/keyward.db"))
        );
        assert_eq!(database_path("sqlite::memory:"), None);
    }

    #[test]
    fn schema_version_is_the_newest_migration() {
        assert_eq!(schema_version(), 20);
        assert!(VERSION.ends_with("(schema version 20)"));
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
