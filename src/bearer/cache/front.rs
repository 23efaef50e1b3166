//! Each thread's front for the token cache: the entries this thread found there lately, in a
//! table of its own, so a hit writes no memory the other request threads write too (the
//! shared cache's shard lock and its entries' recency marks are lines every core writes on
//! every hit).
//!
//! A front's entry is good only while the cache's epoch is the one it was found under. The
//! cache moves its epoch after every change to which entry a hash finds (an invalidation,
//! an insert, with whatever that evicted), always after the change itself, and a thread
//! reads the epoch before it looks in the cache: an entry found before a change is kept
//! under the epoch before it, which no later request matches. Epochs are drawn from one
//! counter for the process, so no two caches ever share one.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Held;

/// Places in each thread's front: a few times the busy tokens of most deployments. A place is
/// the hash's first bits (hashes are SHA-256: spread evenly); a token whose place another
/// token took is found in the shared cache, as without a front.
const PLACES: usize = 4096;

/// The next epoch any cache takes (0 is none's: an empty place matches no cache).
static EPOCHS: AtomicU64 = AtomicU64::new(1);

/// A new epoch, never taken before in this process.
pub(super) fn new_epoch() -> u64 {
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

#[derive(Default)]
struct Place {
    epoch: u64,
    hash: [u8; 32],
    entry: Option<Held>,
}

thread_local! {
    /// Empty until the thread first keeps an entry (most threads never look a token up).
    static FRONT: RefCell<Box<[Place]>> = RefCell::new(Box::default());
}

fn place(hash: &[u8; 32]) -> usize {
    usize::from(u16::from_le_bytes([hash[0], hash[1]])) % PLACES
}

/// The entry this thread keeps for `hash` under `epoch`, if any. A place kept under an older
/// epoch lets its entry go (a revoked token's entry is not held past the change).
pub(super) fn get(epoch: u64, hash: &[u8; 32]) -> Option<Held> {
    FRONT.with_borrow_mut(|places| {
        let place = places.get_mut(place(hash))?;
        if place.epoch != epoch {
            place.entry = None;
            return None;
        }
        if place.hash != *hash {
            return None;
        }
        place.entry.clone()
    })
}

/// Keeps `entry`, found in the cache for `hash` under `epoch` (read before the lookup).
pub(super) fn keep(epoch: u64, hash: &[u8; 32], entry: &Held) {
    FRONT.with_borrow_mut(|places| {
        if places.is_empty() {
            *places = std::iter::repeat_with(Place::default)
                .take(PLACES)
                .collect();
        }
        if let Some(place) = places.get_mut(place(hash)) {
            *place = Place {
                epoch,
                hash: *hash,
                entry: Some(entry.clone()),
            };
        }
    });
}
