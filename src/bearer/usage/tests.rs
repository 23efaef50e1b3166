//! Property tests of the usage buffer: flushes that fail and succeed between requests.

use super::batch::COMPACT_FLOOR;
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
        // The token's cache entry: where it was in a batch, across takes and failed writes.
        let cached = Cached::new("t");
        let mut stored: Usage = (0, None, None);
        let mut in_flight: Option<usize> = None;
        let mut expected = Expected::default();
        let (mut clock, mut seen) = (START, (0, None));
        for step in steps {
            match step {
                Step::Hit { tick, late, ip } => {
                    clock += tick;
                    let path = expected.all.to_string();
                    buffer.record("t", &cached.slot, &path, |path| {
                        let hit = Hit { ip: IpAddr::from([10, 0, 0, ip]), ..hit_at(clock - late, path) };
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
            *cached.stored.lock().unwrap_or_else(|e| e.into_inner()) = stored.clone();
            let by_place = buffer.live_of(&cached);
            prop_assert_eq!((by_place.count, by_place.last_at), (count, last_at), "the entry's place finds the same totals");
            prop_assert!(count >= seen.0 && last_at >= seen.1, "went back from {seen:?} to {count}, {last_at:?}");
            seen = (count, last_at);
            let newest = expected.newest.map(|(at, ip)| (Some(at), Some(ip.to_string())));
            prop_assert_eq!(Some((last_at, last_ip)), newest.or(Some((None, None))));
            pending_part_holds(&buffer, &expected)?;
        }
    }
}

/// The pending part keeps the newest requests since the last write in order, and their days.
fn pending_part_holds(buffer: &UsageBuffer, expected: &Expected) -> Result<(), TestCaseError> {
    let pending = buffer.pending("t").unwrap_or_default();
    let kept = expected
        .unwritten
        .len()
        .saturating_sub(RECENT_KEPT as usize);
    let paths =
        |hits: &mut dyn Iterator<Item = &Hit>| hits.map(|h| h.path.clone()).collect::<Vec<_>>();
    let recent = buffer.pending_recent("t");
    prop_assert_eq!(
        paths(&mut recent.iter()),
        paths(&mut expected.unwritten[kept..].iter())
    );
    for day in [START, START + DAY] {
        let on_day = expected.unwritten.iter();
        let on_day = on_day.filter(|h| h.at.div_euclid(DAY) == day.div_euclid(DAY));
        prop_assert_eq!(pending.on_day(day), on_day.count() as i64);
    }
    Ok(())
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

fn hit_at(at: i64, path: Arc<str>) -> Hit {
    Hit {
        at,
        method: Method::GET,
        path,
        status: 200,
        ip: IpAddr::from([10, 0, 0, 1]),
        hint: "kw_AbCd…wxyz".into(),
    }
}

/// The paths of a token's pending requests, oldest first.
fn recent_paths(buffer: &UsageBuffer, id: &str) -> Vec<String> {
    let recent = buffer.pending_recent(id);
    recent.iter().map(|h| h.path.to_string()).collect()
}

/// A token's cache entry as the buffer sees it: its stored totals and its place in a batch.
struct Cached {
    id: &'static str,
    stored: std::sync::Mutex<Usage>,
    slot: BatchSlot,
}

impl Cached {
    fn new(id: &'static str) -> Self {
        Self {
            id,
            stored: std::sync::Mutex::new((0, None, None)),
            slot: BatchSlot::default(),
        }
    }
}

impl Stored for Cached {
    fn token_id(&self) -> &str {
        self.id
    }

    fn batch_slot(&self) -> &BatchSlot {
        &self.slot
    }

    fn with_usage<R>(&self, f: impl FnOnce(&Usage) -> R) -> R {
        f(&self.stored.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Each token's entry, kept from one call of [`interleaved`] to the next as the cache keeps
/// it (a debug assertion in the batch checks that a place found this way is the token's).
#[derive(Default)]
struct Entries(std::collections::HashMap<&'static str, BatchSlot>);

/// `n` requests to paths `0`… of each of `ids` in turn, starting at path number `from`.
fn interleaved(
    buffer: &UsageBuffer,
    entries: &mut Entries,
    ids: &[&'static str],
    from: usize,
    n: usize,
) {
    for i in from..from + n {
        for id in ids {
            let slot = entries.0.entry(id).or_default();
            buffer.record(id, slot, &i.to_string(), |path| hit_at(START, path));
        }
    }
}

#[test]
fn each_token_keeps_its_own_newest_requests_across_a_failed_flush() {
    let (buffer, mut entries) = (UsageBuffer::default(), Entries::default());
    // The batch being written numbers its tokens x, a, b, c; the next one z, c, b, a: the
    // failed batch's requests must follow their tokens to their new numbers.
    interleaved(&buffer, &mut entries, &["x", "a", "b", "c"], 0, 150);
    buffer.take();
    interleaved(&buffer, &mut entries, &["z", "c", "b", "a"], 150, 30);
    buffer.restore();
    let want: Vec<String> = (80..180).map(|i| i.to_string()).collect();
    for id in ["a", "b", "c"] {
        assert_eq!(buffer.pending(id).map(|p| p.count), Some(180));
        assert_eq!(recent_paths(&buffer, id), want, "{id}");
    }
    let only_older: Vec<String> = (50..150).map(|i| i.to_string()).collect();
    assert_eq!(recent_paths(&buffer, "x"), only_older);
    let only_newer: Vec<String> = (150..180).map(|i| i.to_string()).collect();
    assert_eq!(recent_paths(&buffer, "z"), only_newer);
    // A batch being written and the one after it read as one.
    buffer.take();
    interleaved(&buffer, &mut entries, &["b", "x"], 180, 5);
    let want: Vec<String> = (85..185).map(|i| i.to_string()).collect();
    assert_eq!(recent_paths(&buffer, "b"), want);
    assert_eq!(
        recent_paths(&buffer, "a").last().map(String::as_str),
        Some("179")
    );
}

#[test]
fn a_long_wait_for_a_flush_keeps_the_log_bounded_and_each_tokens_newest() {
    let (buffer, mut entries) = (UsageBuffer::default(), Entries::default());
    let per_token = COMPACT_FLOOR / 2 + 10;
    interleaved(&buffer, &mut entries, &["a", "b"], 0, per_token);
    let logged = buffer.lock().pending.hits.len();
    assert!(logged < COMPACT_FLOOR, "compacted on the way: {logged}");
    let want: Vec<String> = (per_token - 100..per_token)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(recent_paths(&buffer, "a"), want);
    assert_eq!(
        buffer.pending("b").map(|p| p.count),
        Some(per_token as i64),
        "every request counted"
    );
}

#[test]
fn the_flush_writes_each_tokens_newest_requests_in_order() {
    let (buffer, mut entries) = (UsageBuffer::default(), Entries::default());
    interleaved(&buffer, &mut entries, &["a", "b"], 0, 120);
    let c = BatchSlot::default();
    buffer.record("c", &c, "/once", |path| hit_at(START, path));
    let batch = buffer.take();
    let rows = super::flush::rows_in(&batch).unwrap_or_default();
    let ids: Vec<&str> = rows.iter().map(|r| r.token_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    for row in &rows[..2] {
        let chunk: Vec<serde_json::Value> = serde_json::from_str(&row.recent).unwrap_or_default();
        let paths: Vec<&str> = chunk.iter().filter_map(|h| h[2].as_str()).collect();
        let want: Vec<String> = (20..120).map(|i| i.to_string()).collect();
        assert_eq!(paths, want, "{}", row.token_id);
        assert_eq!(row.count, 120);
    }
    assert!(rows[2].recent.contains("/once"));
}

#[test]
fn a_flushed_chunk_is_what_serde_json_writes_for_the_same_requests() {
    let buffer = UsageBuffer::default();
    let slot = BatchSlot::default();
    let odd = [
        ("/api/v1/me", "kw_AbCd…wxyz", "10.0.0.1", Method::GET, 200),
        (
            "/a\"quoted\\path\n\t",
            "kw_\u{1}x",
            "2001:db8::1",
            Method::POST,
            403,
        ),
        (
            "/café/ünï?q=ß&r=\u{7f}",
            "",
            "::ffff:1.2.3.4",
            Method::DELETE,
            429,
        ),
        (
            "/x",
            "h",
            "255.255.255.255",
            Method::from_bytes(b"PURGE").unwrap_or_default(),
            599,
        ),
    ];
    let mut want = Vec::new();
    for (i, (path, hint, ip, method, status)) in odd.iter().enumerate() {
        let ip: IpAddr = ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let at = START + i as i64;
        buffer.record("t", &slot, path, |path| Hit {
            at,
            method: method.clone(),
            path,
            status: *status,
            ip,
            hint: (*hint).into(),
        });
        want.push((at, method.as_str(), *path, *status, ip, *hint));
    }
    let rows = super::flush::rows_in(&buffer.take()).unwrap_or_default();
    let [row] = &rows[..] else {
        panic!("one token, one row: {rows:?}")
    };
    // Each request after the first is cut after its last field that differs from the first's
    // (here each differs in its hint, the last field, so none is cut); the first is whole.
    let whole = serde_json::to_string(&want).unwrap_or_default();
    assert_eq!(row.recent, whole);
    assert_eq!(expanded(&row.recent), serde_json::json!(want));
}

/// A chunk's requests with each missing field taken from its first request's, as
/// `db::usage::recent` reads them.
fn expanded(chunk: &str) -> serde_json::Value {
    let hits: Vec<Vec<serde_json::Value>> = serde_json::from_str(chunk).unwrap_or_default();
    let first = hits.first().cloned().unwrap_or_default();
    let whole = hits.into_iter().map(|mut hit| {
        hit.extend(first.iter().skip(hit.len()).cloned());
        hit
    });
    serde_json::Value::from(whole.collect::<Vec<_>>())
}

/// A client calling one endpoint from one address: after the first request, a chunk keeps
/// each request's time alone; one that differs keeps its fields up to the last that differs.
#[test]
fn a_chunk_keeps_only_what_differs_from_its_first_request() {
    let buffer = UsageBuffer::default();
    let slot = BatchSlot::default();
    let record = |at: i64, path: &str, status: u16| {
        buffer.record("t", &slot, path, |path| Hit {
            status,
            ..hit_at(at, path)
        });
    };
    record(START, "/api/v1/me", 200);
    record(START + 1, "/api/v1/me", 200);
    record(START + 2, "/api/v1/me", 429);
    record(START + 3, "/other", 200);
    let rows = super::flush::rows_in(&buffer.take()).unwrap_or_default();
    let first = hit_at(START, "/api/v1/me".into());
    let head = format!(
        r#"[[{START},"GET","/api/v1/me",200,"{}","{}"],[{}],[{},"GET","/api/v1/me",429],[{},"GET","/other"]]"#,
        first.ip,
        &*first.hint,
        START + 1,
        START + 2,
        START + 3,
    );
    assert_eq!(
        rows.iter().map(|r| r.recent.as_str()).collect::<Vec<_>>(),
        [head]
    );
    let whole = expanded(&rows[0].recent);
    assert_eq!(whole[2][3], 429);
    assert_eq!(whole[3][2], "/other");
    assert_eq!(whole[3][4], whole[0][4]);
}
