//! The batch's log of requests ([`Log`]), in arrival order.

use super::Hit;

/// One request in the log: its token's slot, and where that token's request before it is.
#[derive(Clone, Debug)]
pub(super) struct Logged {
    pub slot: u32,
    pub prev: Option<u32>,
    pub hit: Hit,
}

/// Requests in arrival order, in chunks of [`CHUNK`]: appending never moves what is there (a
/// log in one block, doubled by copying megabytes, held every request's `record` behind the
/// buffer's lock), and a chunk is small enough for the allocator to reuse one an earlier
/// batch freed, where a fresh multi-megabyte block faulted its pages in under that lock.
#[derive(Clone, Debug, Default)]
pub(super) struct Log {
    chunks: Vec<Vec<Logged>>,
    len: usize,
}

/// Requests per chunk of the log (≈ 56 KiB).
const CHUNK: usize = 512;

impl Log {
    /// Appends a request; returns its place.
    pub(super) fn push(&mut self, entry: Logged) -> u32 {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(entry);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        u32::try_from(self.len - 1).unwrap_or(u32::MAX)
    }

    pub(super) fn get(&self, at: u32) -> Option<&Logged> {
        let at = at as usize;
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)
    }

    pub(super) fn last(&self) -> Option<&Logged> {
        self.chunks.last().and_then(|c| c.last())
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = &Logged> {
        self.chunks.iter().flatten()
    }

    pub(super) fn into_entries(self) -> impl Iterator<Item = Logged> {
        self.chunks.into_iter().flatten()
    }
}
