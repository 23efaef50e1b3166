//! The request line laid out directly: the same bytes as `tracing-subscriber`'s text or JSON
//! format (tested in `super::tests`), copying from the thread's last line what repeats.

use std::io::Write;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::Method;

use super::Line;
use crate::config::LogFormat;

pub(super) fn lay_out(
    format: LogFormat,
    line: &Line,
    memo: &mut Memo,
    now: SystemTime,
    buf: &mut Vec<u8>,
) {
    match format {
        LogFormat::Text => text(line, memo, now, buf),
        LogFormat::Json => json(line, memo, now, buf),
    }
}

/// `tracing-subscriber`'s full text format without colours: timestamp, level, target, the
/// message, then `name=value` with strings quoted as `Debug` quotes them.
fn text(line: &Line, memo: &mut Memo, now: SystemTime, buf: &mut Vec<u8>) {
    memo.clock.stamp(now, buf);
    memo.middle(LogFormat::Text, line, buf, |buf| {
        buf.extend_from_slice(b"  INFO keyward::request: request method=");
        buf.extend_from_slice(line.method.as_str().as_bytes());
        buf.extend_from_slice(b" route=");
        debug_str(line.route, buf);
        buf.extend_from_slice(b" status=");
        buf.extend_from_slice(itoa::Buffer::new().format(line.status).as_bytes());
        buf.extend_from_slice(b" latency_ms=");
    });
    if !millis(line.latency_us, buf) {
        debug_f64(line.latency_ms(), buf);
    }
    if let Some(id) = line.token_id {
        buf.extend_from_slice(b" token_id=");
        debug_str(id, buf);
    }
    if let Some(ip) = line.client_ip {
        buf.extend_from_slice(b" client_ip=");
        memo.ip(ip, buf);
    }
    buf.push(b'\n');
}

/// `tracing-subscriber`'s JSON format: timestamp, level, the fields (message first), target.
fn json(line: &Line, memo: &mut Memo, now: SystemTime, buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"{\"timestamp\":\"");
    memo.clock.stamp(now, buf);
    memo.middle(LogFormat::Json, line, buf, |buf| {
        buf.extend_from_slice(
            b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"method\":",
        );
        json_str(line.method.as_str(), buf);
        buf.extend_from_slice(b",\"route\":");
        json_str(line.route, buf);
        buf.extend_from_slice(b",\"status\":");
        buf.extend_from_slice(itoa::Buffer::new().format(line.status).as_bytes());
        buf.extend_from_slice(b",\"latency_ms\":");
    });
    if !millis(line.latency_us, buf) {
        let _ = serde_json::to_writer(&mut *buf, &line.latency_ms());
    }
    if let Some(id) = line.token_id {
        buf.extend_from_slice(b",\"token_id\":");
        json_str(id, buf);
    }
    if let Some(ip) = line.client_ip {
        buf.extend_from_slice(b",\"client_ip\":\"");
        memo.ip(ip, buf);
        buf.push(b'"');
    }
    buf.extend_from_slice(b"},\"target\":\"keyward::request\"}\n");
}

/// What a thread's last line had, copied into the next one when it has the same: the part
/// between the timestamp and the latency (method, route, status), and the client address as
/// text. A client calling one endpoint from one address gets most of its line copied.
#[derive(Default)]
pub(super) struct Memo {
    clock: Clock,
    /// The format, method, route and status `middle_text` was laid out for.
    middle_of: Option<(LogFormat, Method, String, u16)>,
    middle_text: Vec<u8>,
    ip: Option<IpAddr>,
    ip_text: Vec<u8>,
}

impl Memo {
    /// Appends the line's middle part, laid out by `lay_out` unless the last line's was the same.
    fn middle(
        &mut self,
        format: LogFormat,
        line: &Line,
        buf: &mut Vec<u8>,
        lay_out: impl FnOnce(&mut Vec<u8>),
    ) {
        let same = self
            .middle_of
            .as_ref()
            .is_some_and(|(f, method, route, status)| {
                *f == format
                    && method == line.method
                    && *status == line.status
                    && route == line.route
            });
        if !same {
            self.middle_text.clear();
            lay_out(&mut self.middle_text);
            self.middle_of = Some((
                format,
                line.method.clone(),
                line.route.to_owned(),
                line.status,
            ));
        }
        buf.extend_from_slice(&self.middle_text);
    }

    /// Appends `ip` as text.
    fn ip(&mut self, ip: IpAddr, buf: &mut Vec<u8>) {
        if self.ip != Some(ip) {
            self.ip_text.clear();
            crate::domain::client_ip::write(ip, &mut self.ip_text);
            self.ip = Some(ip);
        }
        buf.extend_from_slice(&self.ip_text);
    }
}

/// A string as `{:?}` writes it; printable ASCII without quotes or backslashes is copied.
fn debug_str(s: &str, buf: &mut Vec<u8>) {
    quoted(
        s,
        buf,
        |b| (b' '..=b'~').contains(&b),
        |s, buf| {
            let _ = write!(buf, "{s:?}");
        },
    );
}

/// `s` in double quotes when every byte is `plain` and none is a quote or a backslash, else as
/// `escaped` writes it.
fn quoted(
    s: &str,
    buf: &mut Vec<u8>,
    plain: impl Fn(u8) -> bool,
    escaped: impl FnOnce(&str, &mut Vec<u8>),
) {
    // Every byte checked, without stopping at the first bad one: the loop vectorises.
    let copy = s
        .bytes()
        .fold(true, |ok, b| ok & (plain(b) && b != b'"' && b != b'\\'));
    if copy {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        escaped(s, buf);
    }
}

/// A float as `{:?}` writes it. Between 10⁻⁴ and 10⁴ (latencies up to 10 s) that is the
/// shortest round-trip digits in plain decimal notation with at least one fractional digit,
/// which is what `ryu` writes there too (tested); elsewhere `{:?}` itself.
pub(super) fn debug_f64(v: f64, buf: &mut Vec<u8>) {
    if (1e-4..1e4).contains(&v) {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        let _ = write!(buf, "{v:?}");
    }
}

/// Writes a latency of `micros` below 10 s in milliseconds as `{:?}` and `serde_json` write
/// the float `micros / 1000.0`, from the integer, and says whether it did: the float nearest
/// to m / 1000 with at most 15 digits prints as those digits (tested).
pub(super) fn millis(micros: u64, buf: &mut Vec<u8>) -> bool {
    if micros >= 10_000_000 {
        return false;
    }
    // Laid out from the right: the fraction's three digits less its trailing zeros (one
    // digit at least), the point, the whole milliseconds.
    let mut out = [0u8; 12];
    let mut at = out.len();
    let mut frac = micros % 1000;
    let mut shown = false;
    for place in 0..3 {
        let digit = (frac % 10) as u8;
        frac /= 10;
        if shown || digit != 0 || place == 2 {
            shown = true;
            at -= 1;
            out[at] = b'0' + digit;
        }
    }
    at -= 1;
    out[at] = b'.';
    let mut whole = micros / 1000;
    loop {
        at -= 1;
        out[at] = b'0' + (whole % 10) as u8;
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    buf.extend_from_slice(&out[at..]);
    true
}

/// A JSON string as `serde_json` writes it; one that needs no escape (no `"`, `\\` or
/// control character) is copied.
pub(crate) fn json_str(s: &str, buf: &mut Vec<u8>) {
    quoted(
        s,
        buf,
        |b| b >= b' ',
        |s, buf| {
            let _ = serde_json::to_writer(&mut *buf, s);
        },
    );
}

/// The timestamp as `tracing-subscriber` writes it (UTC, microseconds:
/// `2026-12-01T18:03:00.123456Z`), the date and time of day made once per second.
#[derive(Default)]
pub(super) struct Clock {
    secs: Option<u64>,
    /// `YYYY-MM-DDTHH:MM:SS` of `secs`.
    prefix: Vec<u8>,
}

impl Clock {
    pub(super) fn stamp(&mut self, now: SystemTime, buf: &mut Vec<u8>) {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        if self.secs != Some(secs) {
            self.prefix.clear();
            let t = i64::try_from(secs)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let year = t.year();
            if year > 9999 {
                let _ = write!(self.prefix, "+{year}");
            } else {
                let _ = write!(self.prefix, "{year:04}");
            }
            let _ = write!(
                self.prefix,
                "-{:02}-{:02}T{:02}:{:02}:{:02}",
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            self.secs = Some(secs);
        }
        buf.extend_from_slice(&self.prefix);
        let micros = since.subsec_micros();
        let mut digits = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'Z'];
        let mut m = micros;
        for d in digits[1..7].iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        buf.extend_from_slice(&digits);
    }
}
