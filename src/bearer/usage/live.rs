//! Live usage totals as `/me` reads them on every request: what [`UsageBuffer::live`] gives,
//! without making strings. The stored totals are read in place, and the last address stays an
//! address when it comes from the buffer (it is written straight into the response).

use std::net::IpAddr;

use super::{BatchSlot, Buffers, Pending, UsageBuffer};
use crate::db::tokens::Usage;

/// A token's totals with the usage not yet flushed added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveUsage {
    pub count: i64,
    pub last_at: Option<i64>,
    pub last_ip: Option<LastIp>,
}

/// The last client address: from the buffer (an address), or as stored (text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastIp {
    Addr(IpAddr),
    Text(String),
}

impl LastIp {
    /// Appends the address as `Display` writes it; IPv4 without the formatting machinery.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            LastIp::Addr(ip) => crate::domain::client_ip::write(*ip, out),
            LastIp::Text(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// Where a token's stored totals are kept (the token cache's entry), read in place.
pub trait Stored {
    fn token_id(&self) -> &str;
    /// Where the token was put in the batch that last counted it.
    fn batch_slot(&self) -> &BatchSlot;
    fn with_usage<R>(&self, f: impl FnOnce(&Usage) -> R) -> R;
}

impl UsageBuffer {
    /// [`UsageBuffer::live`] for a cached entry (its stored totals read while the buffer is
    /// locked, as there), with no address string made unless the stored one is the answer.
    pub fn live_of(&self, entry: &impl Stored) -> LiveUsage {
        self.lock().live_of(entry)
    }

    /// [`UsageBuffer::live_of`], then [`UsageBuffer::record`] of a request of the entry's
    /// token, under one lock of the buffer (an answer that shows the usage before it).
    pub fn live_then_record(
        &self,
        entry: &impl Stored,
        path: &str,
        hit: impl FnOnce(std::sync::Arc<str>) -> super::Hit,
    ) -> LiveUsage {
        let path = super::truncated_path(path);
        let mut b = self.lock();
        let live = b.live_of(entry);
        b.pending
            .record(entry.token_id(), entry.batch_slot(), path, hit);
        live
    }
}

impl Buffers {
    fn live_of(&self, entry: &impl Stored) -> LiveUsage {
        let id = entry.token_id();
        let batches = [
            self.writing.get(id),
            self.pending.get_hinted(id, entry.batch_slot()),
        ];
        entry.with_usage(|stored| fold(stored, batches))
    }
}

/// `stored` with each batch's usage added, as [`Pending::added_to`] adds it.
fn fold(stored: &Usage, batches: [Option<&Pending>; 2]) -> LiveUsage {
    let (mut count, mut last_at) = (stored.0, stored.1);
    // `Err` while the stored address is the last one, so it is copied only then.
    let mut last_ip: Result<Option<IpAddr>, Option<&str>> = Err(stored.2.as_deref());
    for p in batches.into_iter().flatten() {
        count += p.count;
        if last_at.is_none_or(|at| p.last_at >= at) {
            last_at = Some(p.last_at);
            last_ip = Ok(p.last_ip);
        }
    }
    let last_ip = match last_ip {
        Ok(addr) => addr.map(LastIp::Addr),
        Err(text) => text.map(|t| LastIp::Text(t.to_owned())),
    };
    LiveUsage {
        count,
        last_at,
        last_ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(count: i64, last_at: i64, ip: [u8; 4]) -> Pending {
        let mut p = Pending::default();
        (p.count, p.last_at, p.last_ip) = (count, last_at, Some(IpAddr::from(ip)));
        p
    }

    /// The same totals as adding each batch with [`Pending::added_to`], address as text.
    #[test]
    fn folding_equals_adding_each_batch() {
        let (older, newer) = (
            pending(2, 100, [10, 0, 0, 1]),
            pending(3, 200, [10, 0, 0, 2]),
        );
        let storeds: [Usage; 3] = [
            (0, None, None),
            (7, Some(150), Some("2001:db8::1".into())),
            (7, Some(300), Some("192.0.2.7".into())),
        ];
        for stored in storeds {
            for batches in [
                [None, None],
                [Some(&older), None],
                [Some(&older), Some(&newer)],
            ] {
                let added = batches
                    .into_iter()
                    .flatten()
                    .fold(stored.clone(), |usage, p| p.added_to(usage));
                let live = fold(&stored, batches);
                let ip = live.last_ip.map(|ip| {
                    let mut out = Vec::new();
                    ip.write(&mut out);
                    String::from_utf8(out).unwrap_or_default()
                });
                assert_eq!((live.count, live.last_at, ip), added);
            }
        }
    }
}
