use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use super::layout::{Clock, debug_f64, millis};
use super::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The line as `tracing-subscriber` formats it.
fn through_tracing(format: LogFormat, line: &Line) -> String {
    let out = Captured::default();
    let writer = {
        let out = out.clone();
        move || out.clone()
    };
    let logs = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(writer);
    match format {
        LogFormat::Text => tracing::subscriber::with_default(logs.finish(), || emit(line)),
        LogFormat::Json => {
            tracing::subscriber::with_default(logs.json().finish(), || emit(line));
        }
    }
    let bytes = out.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    String::from_utf8(bytes).unwrap_or_default()
}

fn laid_out(format: LogFormat, line: &Line, memo: &mut Memo) -> String {
    let mut buf = Vec::new();
    lay_out(format, line, memo, SystemTime::now(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// The line with its timestamp (27 characters) blanked.
fn without_time(format: LogFormat, line: &str) -> String {
    let at = match format {
        LogFormat::Text => 0,
        LogFormat::Json => r#"{"timestamp":""#.len(),
    };
    let mut line = line.to_owned();
    line.replace_range(at..at + 27, &"_".repeat(27));
    line
}

#[test]
fn the_direct_line_is_the_line_tracing_subscriber_writes() {
    let (get, post) = (Method::GET, Method::POST);
    let lines = [
        Line {
            method: &get,
            route: "/api/v1/me",
            status: 200,
            latency_us: 123,
            token_id: Some("tok_0123456789abcdef"),
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
        },
        Line {
            method: &post,
            route: "(unmatched)",
            status: 404,
            latency_us: 0,
            token_id: None,
            client_ip: None,
        },
        Line {
            method: &get,
            route: "/a \"quoted\" \\ route\u{1}é",
            status: 500,
            latency_us: 10_000_000,
            token_id: Some("tok_\"odd\"\n"),
            client_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        },
        Line {
            method: &get,
            route: "/healthz",
            status: 200,
            latency_us: u64::MAX,
            token_id: None,
            client_ip: Some(IpAddr::V6(
                "2001:db8::1".parse().unwrap_or(Ipv6Addr::LOCALHOST),
            )),
        },
        Line {
            method: &get,
            route: "/healthz",
            status: 200,
            latency_us: 58,
            token_id: None,
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        },
        Line {
            method: &get,
            route: "/healthz",
            status: 503,
            latency_us: 12_345_678_901,
            token_id: None,
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        },
    ];
    for format in [LogFormat::Text, LogFormat::Json] {
        // Each line laid out afresh, and all of them twice through one thread's memo (each
        // line after one with the same middle part or address copies it from there).
        let mut memo = Memo::default();
        for (i, line) in lines
            .iter()
            .chain(&lines)
            .chain(lines.iter().rev())
            .enumerate()
        {
            let expected = without_time(format, &through_tracing(format, line));
            let fresh = laid_out(format, line, &mut Memo::default());
            assert_eq!(
                without_time(format, &fresh),
                expected,
                "{format:?}, line {i}"
            );
            let remembered = laid_out(format, line, &mut memo);
            assert_eq!(
                without_time(format, &remembered),
                expected,
                "{format:?}, line {i}"
            );
        }
    }
}

/// Latencies in whole microseconds, as the edge measures them, written from the integer: the
/// same as `{:?}` and `serde_json` write the float (every one below 1 s, a spread above); from
/// 10 s on the float is written.
#[test]
fn whole_microseconds_are_written_as_debug_and_json_write_them() {
    let above = (1_000_000..10_000_000)
        .step_by(997)
        .chain([9_999_999, 10_000_000]);
    for micros in (0..1_000_000u64).chain(above) {
        let v = micros as f64 / 1000.0;
        let mut buf = Vec::new();
        if micros < 10_000_000 {
            assert!(millis(micros, &mut buf), "{micros} µs");
            assert_eq!(
                String::from_utf8_lossy(&buf),
                format!("{v:?}"),
                "{micros} µs"
            );
            let json = serde_json::to_string(&v).unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(&buf), json, "{micros} µs");
        } else {
            assert!(!millis(micros, &mut buf) && buf.is_empty(), "{micros} µs");
        }
    }
}

/// Latencies as `{:?}` writes them, wherever `ryu` is used for them.
#[test]
fn floats_are_written_as_debug_writes_them() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut values = vec![
        -0.0,
        0.0,
        1e-4,
        0.1,
        1.0,
        2.5,
        12.0,
        0.051_737_000_000_000_005,
        9999.999,
    ];
    for _ in 0..2_000_000 {
        // xorshift: values spread over the whole range, exponent and mantissa alike.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let exp = (x % 10) as i32 - 5;
        values.push((x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi(exp));
    }
    for v in values {
        let mut buf = Vec::new();
        debug_f64(v, &mut buf);
        assert_eq!(String::from_utf8(buf).unwrap_or_default(), format!("{v:?}"));
    }
}

#[test]
fn the_timestamp_is_utc_with_microseconds() {
    let mut clock = Clock::default();
    let mut buf = Vec::new();
    let at = UNIX_EPOCH + Duration::new(1_764_612_180, 123_456_789);
    clock.stamp(at, &mut buf);
    clock.stamp(at + Duration::from_micros(7), &mut buf);
    clock.stamp(at + Duration::from_secs(86_400 * 31), &mut buf);
    assert_eq!(
        String::from_utf8(buf).unwrap_or_default(),
        "2025-12-01T18:03:00.123456Z2025-12-01T18:03:00.123463Z2026-01-01T18:03:00.123456Z"
    );
}
