//! Which database the suite runs on. The `api` test binary runs on SQLite, `api_postgres` runs
//! the same tests on PostgreSQL: a throwaway cluster started once per run from Debian's
//! `postgresql` (tools/pg-temp), or the server named by `KEYWARD_TEST_POSTGRES`; every test
//! gets a database of its own. Without PostgreSQL installed the PostgreSQL run prints SKIP and
//! passes, unless `KEYWARD_REQUIRE_POSTGRES=1` (CI), where a missing server fails it.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use keyward::db::Db;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn on_postgres() -> bool {
    crate::BACKEND == Backend::Postgres
}

/// The server's base URL (`postgres://keyward:keyward@HOST:PORT/`), started on first use.
fn server() -> &'static str {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("KEYWARD_TEST_POSTGRES") {
            return base_of(&url);
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let out = Command::new(format!("{root}/tools/pg-temp"))
            .arg("--until")
            .arg(std::process::id().to_string())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                base_of(text.lines().next().unwrap_or_default())
            }
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("KEYWARD_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                    panic!("PostgreSQL is required (KEYWARD_REQUIRE_POSTGRES=1) but: {why}");
                }
                // Straight to the terminal (test output capture would hide a println).
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIP: the PostgreSQL run of the suite did not run ({why}); install Debian's \
                     postgresql to run it"
                );
                std::process::exit(0);
            }
        }
    })
}

fn base_of(url: &str) -> String {
    match url.rfind('/') {
        Some(i) if url[..i].contains('@') => url[..=i].to_owned(),
        _ => format!("{url}/"),
    }
}

/// A new, empty database on the test server; its URL.
fn new_database(name: &str) -> String {
    let base = server();
    let admin = format!("{base}keyward");
    let out = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", &admin, "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create database: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{base}{name}")
}

/// The database URL for a test whose SQLite database would be the file `path`: that file on
/// SQLite; on PostgreSQL a database of its own, made the first time the path is named.
pub fn url_for(path: &Path) -> String {
    if !on_postgres() {
        return format!("sqlite://{}", path.display());
    }
    static MADE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let key = path.display().to_string();
    let mut made = MADE.get_or_init(Default::default).lock().unwrap();
    if let Some(url) = made.get(&key) {
        return url.clone();
    }
    let name = format!(
        "kw_{}",
        keyward::domain::ids::random_base62(16).to_lowercase()
    );
    let url = new_database(&name);
    made.insert(key, url.clone());
    url
}

/// `?` placeholders as PostgreSQL writes them (`$1`, `$2`, …).
fn numbered(statement: &str) -> String {
    if !on_postgres() {
        return statement.to_owned();
    }
    let mut n = 0;
    statement
        .chars()
        .map(|c| {
            if c == '?' {
                n += 1;
                format!("${n}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Runs a statement written with `?` placeholders, binding `args` as text; rows affected.
pub async fn exec(db: &Db, statement: &str, args: &[&str]) -> u64 {
    let sql = numbered(statement);
    match db {
        Db::Sqlite(p) => {
            let mut q = sqlx::query(&sql);
            for a in args {
                q = q.bind(*a);
            }
            q.execute(p).await.unwrap().rows_affected()
        }
        Db::Postgres(p) => {
            let mut q = sqlx::query(&sql);
            for a in args {
                q = q.bind(*a);
            }
            q.execute(p).await.unwrap().rows_affected()
        }
    }
}

/// The one integer a query (with `?` placeholders, text arguments) returns.
pub async fn scalar(db: &Db, statement: &str, args: &[&str]) -> i64 {
    let sql = numbered(statement);
    match db {
        Db::Sqlite(p) => {
            let mut q = sqlx::query_scalar(&sql);
            for a in args {
                q = q.bind(*a);
            }
            q.fetch_one(p).await.unwrap()
        }
        Db::Postgres(p) => {
            let mut q = sqlx::query_scalar(&sql);
            for a in args {
                q = q.bind(*a);
            }
            q.fetch_one(p).await.unwrap()
        }
    }
}

/// Every row of a query without parameters, on either backend.
pub async fn rows<T>(db: &Db, statement: &str) -> Vec<T>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    match db {
        Db::Sqlite(p) => sqlx::query_as(statement).fetch_all(p).await.unwrap(),
        Db::Postgres(p) => sqlx::query_as(statement).fetch_all(p).await.unwrap(),
    }
}

/// On PostgreSQL, the whole content of the test's database as `pg_dump` prints it (the
/// counterpart of reading the SQLite file's bytes).
pub fn dump(path: &Path) -> String {
    let out = Command::new("pg_dump")
        .args(["--no-owner", &url_for(path)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the `\restrict KEY` lines, whose key is new in every dump.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Something that changes whenever any transaction writes to the database: `PRAGMA
/// data_version` on a SQLite connection of its own; on PostgreSQL each table's row count and
/// newest row version (`xmin`), which an insert, update or delete moves.
pub struct WriteWatch {
    db: Db,
    sqlite: Option<sqlx::SqliteConnection>,
}

impl WriteWatch {
    pub async fn new(path: &Path) -> Self {
        use sqlx::Connection;
        let url = url_for(path);
        let sqlite = if on_postgres() {
            None
        } else {
            Some(sqlx::SqliteConnection::connect(&url).await.unwrap())
        };
        Self {
            db: keyward::db::connect(&url).await.unwrap(),
            sqlite,
        }
    }

    pub async fn mark(&mut self) -> String {
        if let Some(conn) = &mut self.sqlite {
            let v: i64 = sqlx::query_scalar("PRAGMA data_version")
                .fetch_one(conn)
                .await
                .unwrap();
            return v.to_string();
        }
        let tables = [
            "tokens",
            "token_channels",
            "channels",
            "usage_daily",
            "usage_recent_chunks",
            "audit_log",
            "sessions",
            "meta",
            "workspaces",
            "admins",
            "server_keys",
        ];
        let sql = tables
            .iter()
            .map(|t| format!("SELECT '{t}' || COUNT(*) || ':' || COALESCE(MAX(xmin::TEXT::BIGINT), 0) FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows: Vec<(String,)> = rows(&self.db, &sql).await;
        rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join(" ")
    }
}
