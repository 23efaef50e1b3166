//! Password-guess throttling: a few password checks per email, per client network and per
//! admin within a window. An attempt is reserved before its password is checked and counts
//! against every limit while it runs, so a burst of parallel requests gets no more checks than
//! a patient attacker would.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Failures allowed per email (and per admin, for the password-change form) in the window.
pub const MAX_PER_EMAIL: usize = 5;
/// Failures allowed per IP inside the window (several people may share an address).
pub const MAX_PER_IP: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 100_000;

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

    /// Wrong current passwords on the password-change form, per signed-in admin.
    pub fn admin(admin_id: &str) -> Self {
        Self {
            name: format!("admin:{admin_id}"),
            max: MAX_PER_EMAIL,
            cleared_by_success: true,
        }
    }
}

#[derive(Default)]
struct Count {
    failures: Vec<Instant>,
    in_flight: usize,
}

impl Count {
    /// How long until one more attempt fits, when the key is at its limit. Attempts in flight
    /// count as failures made now: that is what they become if their password is wrong.
    fn wait(&self, now: Instant, max: usize) -> Option<Duration> {
        let mut recent: Vec<Instant> = self
            .failures
            .iter()
            .copied()
            .filter(|t| now - *t < WINDOW)
            .collect();
        recent.extend(std::iter::repeat_n(now, self.in_flight));
        let oldest_that_counts = recent.len().checked_sub(max).map(|i| recent.get(i))?;
        oldest_that_counts.map(|t| WINDOW.saturating_sub(now - *t))
    }

    fn is_idle(&self, now: Instant) -> bool {
        self.in_flight == 0 && self.failures.iter().all(|t| now - *t >= WINDOW)
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    counts: Mutex<HashMap<String, Count>>,
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
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
    open: bool,
    checking: bool,
}

impl LoginThrottle {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Count>> {
        // The map holds plain counters: a panic elsewhere leaves it usable.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves one password check against `keys`, or says how long they are locked.
    pub fn reserve(&self, keys: Vec<Key>) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() > MAX_KEYS {
            map.retain(|_, c| !c.is_idle(now));
        }
        let wait = keys
            .iter()
            .filter_map(|k| map.get(&k.name)?.wait(now, k.max))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        for k in &keys {
            map.entry(k.name.clone()).or_default().in_flight += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
            open: true,
            checking: false,
        })
    }
}

impl Attempt<'_> {
    /// The password check is about to run (and hold a hashing slot).
    pub fn checking(&mut self) {
        self.checking = true;
    }

    /// The password was wrong: the attempt stays counted for the window.
    pub fn fail(mut self) {
        self.end(Outcome::Failed);
    }

    /// The password was right: the attempt is released and the email's (or admin's) earlier
    /// failures are forgotten.
    pub fn succeed(mut self) {
        self.end(Outcome::Succeeded);
    }

    fn end(&mut self, outcome: Outcome) {
        if !std::mem::replace(&mut self.open, false) {
            return;
        }
        let now = Instant::now();
        let mut map = self.throttle.lock();
        for k in &self.keys {
            let Some(count) = map.get_mut(&k.name) else {
                continue;
            };
            count.in_flight = count.in_flight.saturating_sub(1);
            count.failures.retain(|t| now - *t < WINDOW);
            match outcome {
                Outcome::Failed => {
                    count.failures.push(now);
                    if count.failures.len() > k.max {
                        count.failures.remove(0);
                    }
                }
                Outcome::Succeeded if k.cleared_by_success => count.failures.clear(),
                Outcome::Abandoned if self.checking && !k.cleared_by_success => {
                    count.failures.push(now);
                    if count.failures.len() > k.max {
                        count.failures.remove(0);
                    }
                }
                Outcome::Succeeded | Outcome::Abandoned => {}
            }
            if count.is_idle(now) {
                map.remove(&k.name);
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.end(Outcome::Abandoned);
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

    #[test]
    fn locks_after_max_failures_per_email() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_PER_EMAIL {
            t.reserve(keys("a@b.c", [10, 0, 0, 1])).unwrap().fail();
        }
        let wait = t.reserve(keys("A@b.c", [10, 0, 0, 9])).err();
        assert!(wait.is_some_and(|w| w <= WINDOW && w > WINDOW - Duration::from_secs(5)));
        assert!(t.reserve(keys("other@b.c", [10, 0, 0, 2])).is_ok());
        assert_eq!(minutes_text(WINDOW), "15 minutes");
    }

    #[test]
    fn attempts_in_flight_count_against_the_limit_until_they_end() {
        let t = LoginThrottle::default();
        let held: Vec<_> = (0..MAX_PER_EMAIL)
            .map(|_| t.reserve(keys("a@b.c", [10, 0, 0, 1])).unwrap())
            .collect();
        assert!(t.reserve(keys("a@b.c", [10, 0, 0, 1])).is_err());
        drop(held);
        assert!(t.reserve(keys("a@b.c", [10, 0, 0, 1])).is_ok(), "released");
    }

    #[test]
    fn a_success_forgets_the_emails_failures_but_not_the_ips() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_PER_EMAIL - 1 {
            t.reserve(keys("a@b.c", [10, 0, 0, 1])).unwrap().fail();
        }
        t.reserve(keys("a@b.c", [10, 0, 0, 1])).unwrap().succeed();
        for _ in 0..MAX_PER_EMAIL - 1 {
            t.reserve(keys("a@b.c", [10, 0, 0, 1])).unwrap().fail();
        }
        assert!(t.reserve(keys("a@b.c", [10, 0, 0, 1])).is_ok());
        let ip_failures = t
            .lock()
            .get(&Key::ip([10, 0, 0, 1].into()).name)
            .map(|c| c.failures.len());
        assert_eq!(ip_failures, Some(2 * (MAX_PER_EMAIL - 1)));
    }

    #[test]
    fn a_check_dropped_mid_hash_counts_against_the_ip_only() {
        let t = LoginThrottle::default();
        let ip = Key::ip([10, 0, 0, 7].into()).name;
        let email = Key::email("a@b.c").name;
        let failures = |name: &str| t.lock().get(name).map_or(0, |c| c.failures.len());
        drop(t.reserve(keys("a@b.c", [10, 0, 0, 7])).unwrap());
        assert_eq!(failures(&ip), 0, "dropped before its check: not counted");
        let mut started = t.reserve(keys("a@b.c", [10, 0, 0, 7])).unwrap();
        started.checking();
        drop(started);
        assert_eq!((failures(&ip), failures(&email)), (1, 0));
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
