//! `keyward copy --from URL --to URL`: a whole installation from one database into another
//! (SQLite → PostgreSQL and back).

use super::{Fail, fail};
use crate::db::{self, Backend, copy, redact};
use crate::maintenance::{check_schema, database_path, schema_version};

/// The source is read in one snapshot; the target is migrated, must be empty, and is written
/// in one transaction that commits only when every table's count matches the source's.
pub(super) async fn run(from: &str, to: &str) -> Result<(), Fail> {
    if from == to {
        return Err(fail("--from and --to name the same database"));
    }
    if Backend::of_url(from)? == Backend::Sqlite && database_path(from).is_none_or(|p| !p.exists())
    {
        return Err(fail(format!("{} does not exist", redact(from))));
    }
    check_schema(from).await?;
    check_schema(to).await?;
    let source = db::connect(from).await?;
    let version = source.schema_version().await.unwrap_or(0);
    if version != schema_version() {
        return Err(fail(format!(
            "{} is at schema version {version}, this keyward writes {}: start this keyward on it \
             once (which upgrades it) and copy again",
            redact(from),
            schema_version()
        )));
    }
    let target = db::connect(to).await?;
    db::migrate(&target).await?;
    let mut dst = target.begin_write().await?;
    if copy::counts(dst.conn()).await?.iter().any(|n| *n > 0) {
        return Err(fail(format!(
            "{} is not empty: copy only into a new database (nothing was written)",
            redact(to)
        )));
    }
    let mut src = copy::snapshot(&source).await?;
    let expected = copy::counts(src.conn()).await?;
    for (table, n) in copy::TABLES.iter().zip(&expected) {
        eprintln!("copying {}: {n} rows", table.name);
        copy::table(src.conn(), dst.conn(), table).await?;
    }
    let copied = copy::counts(dst.conn()).await?;
    if copied != expected {
        return Err(fail(
            "row counts differ after the copy; nothing was written",
        ));
    }
    dst.commit().await?;
    drop(src);
    println!("{:<22} {:>10} {:>10}", "table", "source", "target");
    for ((table, a), b) in copy::TABLES.iter().zip(&expected).zip(&copied) {
        println!("{:<22} {a:>10} {b:>10}", table.name);
    }
    println!("copied {} to {}", redact(from), redact(to));
    source.close().await;
    target.close().await;
    Ok(())
}
