//! Sign-in throttling: after repeated failures per email or per IP, refuse for a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per email inside the window before it locks.
pub const MAX_PER_EMAIL: usize = 5;
/// Failures allowed per IP inside the window (several people may share an address).
pub const MAX_PER_IP: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

fn keys(email: &str, ip: IpAddr) -> [(String, usize); 2] {
    [
        (format!("email:{}", email.to_lowercase()), MAX_PER_EMAIL),
        (format!("ip:{ip}"), MAX_PER_IP),
    ]
}

impl LoginThrottle {
    /// `Some(wait)` when sign-in for this email or IP is locked.
    pub fn locked_for(&self, email: &str, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let map = self.failures.lock().ok()?;
        keys(email, ip)
            .iter()
            .filter_map(|(key, max)| {
                let recent: Vec<_> = map
                    .get(key)?
                    .iter()
                    .filter(|t| now - **t < WINDOW)
                    .collect();
                // Locked until the oldest failure that keeps the count at the limit expires.
                (recent.len() >= *max).then(|| WINDOW - (now - *recent[recent.len() - max]))
            })
            .max()
    }

    pub fn record_failure(&self, email: &str, ip: IpAddr) {
        let now = Instant::now();
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > MAX_KEYS {
                map.retain(|_, v| v.iter().any(|t| now - *t < WINDOW));
            }
            for (key, max) in keys(email, ip) {
                let list = map.entry(key).or_default();
                list.retain(|t| now - *t < WINDOW);
                list.push(now);
                if list.len() > max {
                    list.remove(0);
                }
            }
        }
    }

    pub fn clear_email(&self, email: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("email:{}", email.to_lowercase()));
        }
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
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_per_email() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..MAX_PER_EMAIL - 1 {
            t.record_failure("a@b.c", ip);
        }
        assert!(t.locked_for("A@b.c", ip).is_none());
        t.record_failure("a@b.c", ip);
        let wait = t.locked_for("a@b.c", ip);
        assert!(wait.is_some_and(|w| w <= WINDOW && w > WINDOW - Duration::from_secs(5)));
        assert!(t.locked_for("other@b.c", [10, 0, 0, 2].into()).is_none());
        assert_eq!(minutes_text(WINDOW), "15 minutes");
    }
}
