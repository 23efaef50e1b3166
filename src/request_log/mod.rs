//! What the request log (written by `edge`) takes from the routes: whether it is on, the
//! matched route template, and the token a request was counted for. Routes leave the last two
//! on their response; nothing is copied when the log is off.
//!
//! The line itself is written here. Through `tracing` it goes through the general formatter
//! (a visitor per field, a timestamp formatted from scratch); [`write`] instead lays out the
//! same line directly ([`layout`]: the same bytes as `tracing-subscriber`'s text or JSON
//! format, tested) into a per-thread buffer and queues it on the log writer ([`log_sink`]).
//! It does so once [`init_tracing`](crate::init_tracing) has set it up (not with colours, not
//! with a filter on span or field values) and when no span is current (a span's context would
//! be part of the line); otherwise the line goes through `tracing`.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;

use crate::bearer::Caller;
use crate::config::LogFormat;
use crate::log_sink::Sink;
pub(crate) use layout::json_str;
use layout::{Memo, lay_out};

mod layout;

/// The token a request was counted for and its route template, left on the response by the
/// bearer layer (the caller itself: no copy of the id; one extension, not two).
#[derive(Clone)]
pub struct CountedToken {
    pub caller: Caller,
    pub route: &'static str,
}

/// The route template of a route that knows its own (the API's, forward auth's), left on a
/// response that counted no token: unlike axum's [`MatchedPath`], taking it counts no
/// reference (a count every request on every core would write).
#[derive(Clone, Copy, Debug)]
pub struct RouteName(pub &'static str);

impl CountedToken {
    pub fn id(&self) -> &str {
        &self.caller.token().id
    }
}

/// Whether the request log is on. The server's filter is fixed: once [`write_directly`] is
/// set up this is the answer it found then (asking `tracing` costs ~150 instructions each
/// time, several times per request); otherwise `tracing` is asked.
pub fn enabled() -> bool {
    match ON.get() {
        Some(&on) => on,
        None => tracing::enabled!(target: "keyward::request", tracing::Level::INFO),
    }
}

/// [`enabled`]'s answer under the server's fixed filter.
static ON: OnceLock<bool> = OnceLock::new();

/// The request's matched route template, to leave on its response, when the log is on.
pub fn route_of(req: &Request) -> Option<MatchedPath> {
    enabled()
        .then(|| req.extensions().get::<MatchedPath>().cloned())
        .flatten()
}

/// One request's log line.
pub struct Line<'a> {
    pub method: &'a Method,
    pub route: &'a str,
    pub status: u16,
    /// In whole microseconds, as the edge measures it; the line gives it in milliseconds.
    pub latency_us: u64,
    pub token_id: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
}

impl Line<'_> {
    /// The latency as the line gives it: milliseconds, a float.
    fn latency_ms(&self) -> f64 {
        self.latency_us as f64 / 1000.0
    }
}

/// Where and how [`write`] lays out lines itself; unset, lines go through `tracing`.
static DIRECT: OnceLock<(Arc<Sink>, LogFormat)> = OnceLock::new();

/// Lets [`write`] lay out request lines itself in `format` and queue them on `sink` (the same
/// writer and format the `tracing` formatter uses), and fixes [`enabled`]'s answer. Only once
/// the server's subscriber is installed, with a filter that does not depend on spans or field
/// values and no colours: callers check [`enabled`] before writing.
pub fn write_directly(sink: Arc<Sink>, format: LogFormat) {
    let _ = ON.set(tracing::enabled!(
        target: "keyward::request",
        tracing::Level::INFO
    ));
    let _ = DIRECT.set((sink, format));
}

thread_local! {
    static BUF: RefCell<(Vec<u8>, Memo)> = RefCell::new((Vec::with_capacity(512), Memo::default()));
}

/// Writes the request's log line (the caller has checked [`enabled`]).
pub fn write(line: &Line) {
    if let Some((sink, format)) = DIRECT.get()
        && no_current_span()
    {
        BUF.with_borrow_mut(|(buf, memo)| {
            buf.clear();
            lay_out(*format, line, memo, SystemTime::now(), buf);
            sink.push(buf);
        });
        return;
    }
    emit(line);
}

fn no_current_span() -> bool {
    tracing::dispatcher::get_default(|d| d.current_span().id().is_none())
}

/// The line through `tracing` (its filter and formatter).
fn emit(line: &Line) {
    tracing::info!(
        target: "keyward::request",
        method = %line.method,
        route = line.route,
        status = line.status,
        latency_ms = line.latency_ms(),
        token_id = line.token_id,
        client_ip = line.client_ip.map(tracing::field::display),
        "request"
    );
}

#[cfg(test)]
mod tests;
