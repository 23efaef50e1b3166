//! A counter kept on several lines of memory, one per thread in turn: a request thread adds
//! to its own line, where one shared counter is a line every core writes on every request
//! (taken from the other core's cache each time). A scrape reads the sum.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use prometheus_client::metrics::counter::{Atomic, Counter};

/// A counter of requests (or other events on the request path), as Prometheus reports it.
pub type Count = Counter<u64, Spread>;

/// Lines per counter: the request threads of a small machine each have their own; more
/// threads than lines share some.
const LINES: usize = 8;

#[derive(Debug)]
pub struct Spread([Line; LINES]);

/// One thread's part, alone on its line (and the next, which some processors fetch with it).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Line(AtomicU64);

impl Default for Spread {
    fn default() -> Self {
        Self(std::array::from_fn(|_| Line::default()))
    }
}

/// The line this thread adds to, given out in turn as threads first count.
fn line() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static LINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % LINES;
    }
    LINE.with(|l| *l)
}

impl Atomic<u64> for Spread {
    fn inc(&self) -> u64 {
        self.inc_by(1)
    }

    /// Returns this thread's part before the add (no caller reads it).
    fn inc_by(&self, v: u64) -> u64 {
        self.0
            .get(line())
            .map_or(0, |l| l.0.fetch_add(v, Ordering::Relaxed))
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|l| l.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_count_sums_every_threads_adds() {
        let count = Count::default();
        std::thread::scope(|s| {
            for _ in 0..(2 * LINES + 1) {
                s.spawn(|| (0..1000).for_each(|_| _ = count.inc()));
            }
        });
        count.inc_by(5);
        assert_eq!(count.get(), (2 * LINES as u64 + 1) * 1000 + 5);
    }
}
