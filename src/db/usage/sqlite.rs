//! The usage flush on SQLite: batched statements over `(VALUES …)`.

use std::sync::OnceLock;

use sqlx::Arguments;
use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;

use super::{RECENT_KEPT, TokenUsage};

/// Rows per batched statement: a flush runs each statement once per this many tokens, the
/// last run padded with rows of NULLs, which match no token (one SQL text per statement, so
/// each is prepared once and cached).
const ROWS: usize = 64;

/// A statement over `(VALUES …)`, which stands for [`ROWS`] rows of `columns` parameters
/// (and `RECENT_KEPT` for [`RECENT_KEPT`]).
struct Batched {
    columns: usize,
    template: &'static str,
    sql: OnceLock<String>,
}

impl Batched {
    const fn new(columns: usize, template: &'static str) -> Self {
        Self {
            columns,
            template,
            sql: OnceLock::new(),
        }
    }

    fn sql(&self) -> &str {
        self.sql.get_or_init(|| {
            let row = format!("({})", vec!["?"; self.columns].join(", "));
            let values = format!("(VALUES {})", vec![row; ROWS].join(", "));
            self.template
                .replace("(VALUES …)", &values)
                .replace("RECENT_KEPT", &RECENT_KEPT.to_string())
        })
    }
}

static ADD_TOTALS: Batched = Batched::new(
    4,
    "UPDATE tokens SET request_count = request_count + u.column2,
            last_used_at = MAX(COALESCE(last_used_at, 0), u.column3),
            last_used_ip = CASE WHEN u.column3 >= COALESCE(last_used_at, 0)
                                THEN u.column4 ELSE last_used_ip END
     FROM (VALUES …) AS u
     WHERE tokens.id = u.column1",
);

static ADD_DAYS: Batched = Batched::new(
    3,
    "INSERT INTO usage_daily (token_id, day, count)
     SELECT t.id, d.column2, d.column3
     FROM (VALUES …) AS d JOIN tokens AS t ON t.id = d.column1
     WHERE true
     ON CONFLICT (token_id, day) DO UPDATE SET count = count + excluded.count",
);

// `last_seq` only grows (the flusher is the only writer of `request_count`), so the conflict
// clause never fires; it is there so that, should it ever, the counts still land.
static ADD_CHUNKS: Batched = Batched::new(
    2,
    "INSERT INTO usage_recent_chunks (token_id, last_seq, requests)
     SELECT t.id, t.request_count, c.column2
     FROM (VALUES …) AS c JOIN tokens AS t ON t.id = c.column1
     WHERE true
     ON CONFLICT (token_id, last_seq) DO NOTHING",
);

static DROP_OLD_CHUNKS: Batched = Batched::new(
    1,
    "DELETE FROM usage_recent_chunks WHERE rowid IN (
         SELECT c.rowid
         FROM (VALUES …) AS v
         JOIN tokens AS t ON t.id = v.column1
         JOIN usage_recent_chunks AS c
           ON c.token_id = t.id AND c.last_seq <= t.request_count - RECENT_KEPT)",
);

/// The SQLite flush (see [`super::write_batch`]).
pub(super) async fn write(
    conn: &mut sqlx::SqliteConnection,
    rows: &[TokenUsage],
    prune_before: Option<&str>,
) -> Result<(), sqlx::Error> {
    // Callers pass rows in id order: each statement then walks its indexes (all keyed by token
    // id) forward, reading each page once, instead of jumping between pages at random.
    let totals: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.token_id.as_str(),
                r.count,
                r.last_at,
                r.last_ip.as_deref(),
            )
        })
        .collect();
    let days: Vec<_> = rows
        .iter()
        .flat_map(|r| {
            r.days
                .iter()
                .map(move |(day, n)| (r.token_id.as_str(), day.as_str(), *n))
        })
        .collect();
    let chunks: Vec<_> = rows
        .iter()
        .map(|r| (r.token_id.as_str(), r.recent.as_str()))
        .collect();
    run_batched(conn, &ADD_TOTALS, &totals, |args, (id, n, at, ip)| {
        args.add(*id)?;
        args.add(*n)?;
        args.add(*at)?;
        args.add(*ip)
    })
    .await?;
    run_batched(conn, &ADD_DAYS, &days, |args, (id, day, n)| {
        args.add(*id)?;
        args.add(*day)?;
        args.add(*n)
    })
    .await?;
    run_batched(conn, &ADD_CHUNKS, &chunks, |args, (id, json)| {
        args.add(*id)?;
        args.add(*json)
    })
    .await?;
    run_batched(conn, &DROP_OLD_CHUNKS, &chunks, |args, (id, _)| {
        args.add(*id)
    })
    .await?;
    if let Some(day) = prune_before {
        sqlx::query!("DELETE FROM usage_daily WHERE day < ?", day)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Runs `statement` once per [`ROWS`] of `rows`; `add` binds one row's parameters in order.
async fn run_batched<'a, R>(
    conn: &mut sqlx::SqliteConnection,
    statement: &Batched,
    rows: &'a [R],
    add: impl Fn(&mut SqliteArguments<'a>, &'a R) -> Result<(), BoxDynError>,
) -> Result<(), sqlx::Error> {
    for run in rows.chunks(ROWS) {
        let mut args = SqliteArguments::default();
        for row in run {
            add(&mut args, row).map_err(sqlx::Error::Encode)?;
        }
        debug_assert_eq!(
            args.len(),
            run.len() * statement.columns,
            "one row, one column each"
        );
        for _ in 0..(ROWS - run.len()) * statement.columns {
            args.add(None::<i64>).map_err(sqlx::Error::Encode)?;
        }
        sqlx::query_with(statement.sql(), args)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
