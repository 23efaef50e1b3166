//! Password-guess throttling: a few password checks per email, per client network and per
//! admin within a window, counted in the database so that every server of an installation
//! counts the same guesses. An attempt is reserved before its password is checked and counts
//! against every limit while it runs; reservations are made one at a time (under the write
//! lock), so a burst of parallel requests, to one server or to several, gets no more checks
//! than a patient attacker would.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::db::{self, Db};
use crate::domain::ids::{random_base62, sha256_hex};
use crate::domain::now_ms;

/// Failures allowed per email (and per admin, for the password-change form) in the window.
pub const MAX_PER_EMAIL: usize = 5;
/// Failures allowed per IP inside the window (several people may share an address).
pub const MAX_PER_IP: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// A check still running after this long is taken for one whose server died mid-check.
const RUNNING_MAX_MS: i64 = 60_000;

/// What an attempt is counted against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    name: String,
    max: usize,
    /// A success forgets earlier failures (the right person got in); an IP's do not.
    cleared_by_success: bool,
}

impl Key {
    pub fn email(email: &str) -> Self {
        Self {
            name: format!("email:{}", email.to_lowercase()),
            max: MAX_PER_EMAIL,
            cleared_by_success: true,
        }
    }

    /// IPv6 clients are counted by their /64: one host usually holds the whole prefix.
    pub fn ip(ip: IpAddr) -> Self {
        let name = match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let net = Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)));
                format!("ip:{net}/64")
            }
            v4 => format!("ip:{v4}"),
        };
        Self {
            name,
            max: MAX_PER_IP,
            cleared_by_success: false,
        }
    }

    /// The key as stored: its SHA-256 (the email or address itself is never stored).
    fn hash(&self) -> String {
        sha256_hex(&self.name)
    }

    /// Wrong current passwords on the password-change form, per signed-in admin.
    pub fn admin(admin_id: &str) -> Self {
        Self {
            name: format!("admin:{admin_id}"),
            max: MAX_PER_EMAIL,
            cleared_by_success: true,
        }
    }
}

/// How long until one more attempt fits, when a key is at its limit: `counted` are its
/// failures in the window and its running checks, which count as failures made now (that is
/// what they become if their password is wrong).
fn wait(counted: &[(i64, bool)], now: i64, max: usize) -> Option<Duration> {
    let mut times: Vec<i64> = counted
        .iter()
        .map(|&(at, failed)| if failed { at } else { now })
        .collect();
    times.sort_unstable();
    let oldest_that_counts = *times.get(times.len().checked_sub(max)?)?;
    let left = (oldest_that_counts + WINDOW_MS - now).max(0);
    Some(Duration::from_millis(u64::try_from(left).unwrap_or(0)))
}

/// How a reserved attempt ended.
#[derive(Clone, Copy)]
enum Outcome {
    Failed,
    Succeeded,
    Abandoned,
}

/// A reserved attempt. It counts against its keys until `fail` or `succeed`; dropped without
/// either (an error, a cancelled request) it is released without counting as a failure —
/// except against the IP once its password check started: a client that drops its requests
/// mid-check to keep the hashing slots busy is still throttled.
pub struct Attempt {
    db: Db,
    id: String,
    keys: Vec<Key>,
    open: bool,
    checking: bool,
}

/// Reserves one password check against `keys`, or says how long they are locked.
pub async fn reserve(db: &Db, keys: Vec<Key>) -> Result<Result<Attempt, Duration>, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let mut locked: Option<Duration> = None;
    for k in &keys {
        let counted = db::signin_attempts::counted(
            tx.conn(),
            &k.hash(),
            now - WINDOW_MS,
            now - RUNNING_MAX_MS,
        )
        .await?;
        locked = locked.max(wait(&counted, now, k.max));
    }
    if let Some(wait) = locked {
        return Ok(Err(wait));
    }
    let id = random_base62(16);
    let prune_before = now - WINDOW_MS - RUNNING_MAX_MS;
    for k in &keys {
        db::signin_attempts::reserve(tx.conn(), &id, &k.hash(), now, prune_before).await?;
    }
    tx.commit().await?;
    Ok(Ok(Attempt {
        db: db.clone(),
        id,
        keys,
        open: true,
        checking: false,
    }))
}

impl Attempt {
    /// The password check is about to run (and hold a hashing slot).
    pub fn checking(&mut self) {
        self.checking = true;
    }

    /// The password was wrong: the attempt stays counted for the window.
    pub async fn fail(mut self) {
        self.open = false;
        end(
            &self.db,
            &self.id,
            &self.keys,
            Outcome::Failed,
            self.checking,
        )
        .await;
    }

    /// The password was right: the attempt is released and the email's (or admin's) earlier
    /// failures are forgotten.
    pub async fn succeed(mut self) {
        self.open = false;
        end(
            &self.db,
            &self.id,
            &self.keys,
            Outcome::Succeeded,
            self.checking,
        )
        .await;
    }
}

async fn end(db: &Db, id: &str, keys: &[Key], outcome: Outcome, checking: bool) {
    let now = now_ms();
    for k in keys {
        let hash = k.hash();
        let failed_at = match outcome {
            Outcome::Failed => Some(now),
            Outcome::Abandoned if checking && !k.cleared_by_success => Some(now),
            Outcome::Succeeded | Outcome::Abandoned => None,
        };
        let mut done = db::signin_attempts::end(db, id, &hash, failed_at).await;
        if done.is_ok() && matches!(outcome, Outcome::Succeeded) && k.cleared_by_success {
            done = db::signin_attempts::forget(db, &hash).await;
        }
        if let Err(e) = done {
            // The reservation then ends by itself after RUNNING_MAX_MS.
            tracing::warn!(error = %e, "could not record the end of a password check");
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !std::mem::replace(&mut self.open, false) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (db, id, keys, checking) = (
            self.db.clone(),
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.keys),
            self.checking,
        );
        runtime.spawn(async move { end(&db, &id, &keys, Outcome::Abandoned, checking).await });
    }
}

/// "5 minutes" / "1 minute", rounded up.
pub fn minutes_text(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    if minutes == 1 {
        "1 minute".into()
    } else {
        format!("{minutes} minutes")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn keys(email: &str, ip: [u8; 4]) -> Vec<Key> {
        vec![Key::email(email), Key::ip(ip.into())]
    }

    async fn db() -> Db {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        db
    }

    async fn attempt(db: &Db, k: Vec<Key>) -> Result<Attempt, Duration> {
        reserve(db, k).await.unwrap()
    }

    /// Failures stored against a key now.
    async fn failures(db: &Db, key: &Key) -> usize {
        let mut pooled = db.acquire().await.unwrap();
        let counted = crate::db::signin_attempts::counted(pooled.conn(), &key.hash(), 0, i64::MAX)
            .await
            .unwrap();
        counted.iter().filter(|(_, failed)| *failed).count()
    }

    /// Lets the task a dropped attempt spawned finish.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn locks_after_max_failures_per_email() {
        let db = db().await;
        for _ in 0..MAX_PER_EMAIL {
            attempt(&db, keys("a@b.c", [10, 0, 0, 1]))
                .await
                .unwrap()
                .fail()
                .await;
        }
        let wait = attempt(&db, keys("A@b.c", [10, 0, 0, 9])).await.err();
        assert!(wait.is_some_and(|w| w <= WINDOW && w > WINDOW - Duration::from_secs(5)));
        assert!(attempt(&db, keys("other@b.c", [10, 0, 0, 2])).await.is_ok());
        assert_eq!(minutes_text(WINDOW), "15 minutes");
    }

    #[tokio::test]
    async fn attempts_in_flight_count_against_the_limit_until_they_end() {
        let db = db().await;
        let mut held = Vec::new();
        for _ in 0..MAX_PER_EMAIL {
            held.push(attempt(&db, keys("a@b.c", [10, 0, 0, 1])).await.unwrap());
        }
        assert!(attempt(&db, keys("a@b.c", [10, 0, 0, 1])).await.is_err());
        drop(held);
        settle().await;
        assert!(
            attempt(&db, keys("a@b.c", [10, 0, 0, 1])).await.is_ok(),
            "released"
        );
    }

    #[tokio::test]
    async fn a_success_forgets_the_emails_failures_but_not_the_ips() {
        let db = db().await;
        for _ in 0..MAX_PER_EMAIL - 1 {
            attempt(&db, keys("a@b.c", [10, 0, 0, 1]))
                .await
                .unwrap()
                .fail()
                .await;
        }
        attempt(&db, keys("a@b.c", [10, 0, 0, 1]))
            .await
            .unwrap()
            .succeed()
            .await;
        for _ in 0..MAX_PER_EMAIL - 1 {
            attempt(&db, keys("a@b.c", [10, 0, 0, 1]))
                .await
                .unwrap()
                .fail()
                .await;
        }
        assert!(attempt(&db, keys("a@b.c", [10, 0, 0, 1])).await.is_ok());
        let ip = Key::ip([10, 0, 0, 1].into());
        assert_eq!(failures(&db, &ip).await, 2 * (MAX_PER_EMAIL - 1));
    }

    #[tokio::test]
    async fn a_check_dropped_mid_hash_counts_against_the_ip_only() {
        let db = db().await;
        let (ip, email) = (Key::ip([10, 0, 0, 7].into()), Key::email("a@b.c"));
        drop(attempt(&db, keys("a@b.c", [10, 0, 0, 7])).await.unwrap());
        settle().await;
        assert_eq!(
            failures(&db, &ip).await,
            0,
            "dropped before its check: not counted"
        );
        let mut started = attempt(&db, keys("a@b.c", [10, 0, 0, 7])).await.unwrap();
        started.checking();
        drop(started);
        settle().await;
        assert_eq!(
            (failures(&db, &ip).await, failures(&db, &email).await),
            (1, 0)
        );
    }

    #[tokio::test]
    async fn the_database_holds_no_email_or_address() {
        let db = db().await;
        attempt(&db, keys("who@b.c", [10, 9, 8, 7]))
            .await
            .unwrap()
            .fail()
            .await;
        let crate::db::Db::Sqlite(pool) = &db else {
            unreachable!()
        };
        let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM signin_attempts")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);
        assert!(
            stored
                .iter()
                .all(|k| k.len() == 64 && !k.contains("who") && !k.contains("10.9"))
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let ip = |s: &str| Key::ip(s.parse().unwrap());
        assert_eq!(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("2001:db8:1:2::1").name, "ip:2001:db8:1:2::/64");
        assert_eq!(ip("::ffff:10.0.0.1").name, "ip:10.0.0.1");
    }
}
