//! Property tests of the usage buffer: flushes that fail and succeed between requests.

use super::*;
use proptest::prelude::*;

/// Just before a UTC midnight, so schedules cross into the next day.
const START: i64 = 20_000 * DAY - 60;

#[derive(Clone, Debug)]
enum Step {
    /// A request `late` seconds older than the clock (requests finish out of order).
    Hit { tick: i64, late: i64, ip: u8 },
    /// A flush takes the buffer…
    Take,
    /// …and its write fails, so the batch goes back…
    Fail,
    /// …or succeeds, and the stored totals grow by it.
    Write,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let hit = (0..4i64, 0..3i64, 0..4u8).prop_map(|(tick, late, ip)| Step::Hit { tick, late, ip });
    let step = prop_oneof![
        20 => hit,
        1 => Just(Step::Take),
        2 => Just(Step::Fail),
        1 => Just(Step::Write),
    ];
    prop::collection::vec(step, 1..500)
}

/// What the buffer must account for: every request since the last successful write.
#[derive(Default)]
struct Expected {
    unwritten: Vec<Hit>,
    all: i64,
    newest: Option<(i64, IpAddr)>,
}

impl Expected {
    fn record(&mut self, hit: &Hit) {
        self.all += 1;
        self.unwritten.push(hit.clone());
        if self.newest.is_none_or(|(at, _)| hit.at >= at) {
            self.newest = Some((hit.at, hit.ip));
        }
    }
}

proptest! {
    /// Flushes fail and succeed between requests: no request is lost, a reader's count
    /// and last use never go back, and the pending part keeps its days and newest
    /// requests in order.
    #[test]
    fn failed_flushes_lose_nothing_and_readers_never_see_counts_go_back(steps in steps()) {
        let buffer = UsageBuffer::default();
        let mut stored: Usage = (0, None, None);
        let mut in_flight: Option<usize> = None;
        let mut expected = Expected::default();
        let (mut clock, mut seen) = (START, (0, None));
        for step in steps {
            match step {
                Step::Hit { tick, late, ip } => {
                    clock += tick;
                    let path = expected.all.to_string();
                    buffer.record("t", &path, |path| {
                        let hit = Hit {
                            at: clock - late,
                            method: Method::GET,
                            path,
                            status: 200,
                            ip: IpAddr::from([10, 0, 0, ip]),
                            hint: "kw_AbCd…wxyz".into(),
                        };
                        expected.record(&hit);
                        hit
                    });
                }
                Step::Take if in_flight.is_none() => {
                    buffer.take();
                    in_flight = Some(expected.unwritten.len());
                }
                Step::Fail => {
                    if in_flight.take().is_some() {
                        buffer.restore();
                    }
                }
                Step::Write => {
                    if let Some(taken) = in_flight.take() {
                        // The commit: the batch reaches the stored totals as it leaves
                        // the buffer, in one step.
                        buffer.finish(|batch| {
                            if let Some(p) = batch.get("t") {
                                stored = p.added_to(stored.clone());
                            }
                        });
                        expected.unwritten.drain(..taken);
                    }
                }
                Step::Take => {}
            }
            // Read at every step, a flush in flight or not.
            let (count, last_at, last_ip) = buffer.live("t", || stored.clone());
            prop_assert_eq!(count, expected.all, "no request lost or counted twice");
            prop_assert!(count >= seen.0 && last_at >= seen.1, "went back from {seen:?} to {count}, {last_at:?}");
            seen = (count, last_at);
            let newest = expected.newest.map(|(at, ip)| (Some(at), Some(ip.to_string())));
            prop_assert_eq!(Some((last_at, last_ip)), newest.or(Some((None, None))));
            let pending = buffer.pending("t").unwrap_or_default();
            let kept = expected.unwritten.len().saturating_sub(RECENT_KEPT as usize);
            let paths = |hits: &mut dyn Iterator<Item = &Hit>| hits.map(|h| h.path.clone()).collect::<Vec<_>>();
            prop_assert_eq!(paths(&mut pending.recent.iter()), paths(&mut expected.unwritten[kept..].iter()));
            for day in [START, START + DAY] {
                let on_day = expected.unwritten.iter().filter(|h| h.at.div_euclid(DAY) == day.div_euclid(DAY)).count();
                prop_assert_eq!(pending.on_day(day), on_day as i64);
            }
        }
    }
}

#[test]
fn addresses_are_written_as_display_writes_them() {
    for ip in [
        "0.0.0.0",
        "255.255.255.255",
        "10.0.100.9",
        "2001:db8::1",
        "::ffff:1.2.3.4",
    ] {
        let ip: IpAddr = ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(super::ip_string(ip), ip.to_string());
    }
}
