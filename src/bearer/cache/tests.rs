//! The cache against changes racing its misses, and a previous secret's time.

use super::*;
use crate::db::tokens::Token;
use crate::domain::actor::Actor;
use crate::domain::ip::IpAllowlist;
use crate::domain::permissions::PermissionSet;
use proptest::prelude::*;

const HASH: SecretHash = SecretHash([7; 32]);

/// The token as the database holds it: its name stands for every editable field.
#[derive(Clone, Debug, Default)]
struct Stored {
    version: u32,
    count: i64,
}

fn entry(row: &Stored) -> Entry {
    let token = Token {
        id: "tok_1".into(),
        workspace_id: "ws_1".into(),
        name: format!("v{}", row.version),
        description: String::new(),
        hint: String::new(),
        permissions: PermissionSet::from_stored("chats:read"),
        channels: None,
        ip_allowlist: IpAllowlist::default(),
        rate: Default::default(),
        expires_at: None,
        revoked_at: None,
        created_at: 0,
        created_by: Actor::cli(),
        request_count: row.count,
        last_used_at: None,
        last_used_ip: None,
        previous: None,
    };
    let workspace = Workspace {
        id: "ws_1".into(),
        name: "Acme".into(),
        slug: "acme".into(),
    };
    Entry::new(token, workspace, Used::Current)
}

#[derive(Clone, Debug)]
enum Step {
    /// Miss number `n` notes the generation and reads the row.
    Read(usize),
    /// Miss number `n` inserts what it read.
    Insert(usize),
    /// A token change commits…
    Commit,
    /// …and its code path invalidates the cache.
    Invalidate,
    /// A usage flush writes `n` requests and hands them to the cache.
    Flush(i64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        (0..3usize).prop_map(Step::Read),
        (0..3usize).prop_map(Step::Insert),
        Just(Step::Commit),
        Just(Step::Invalidate),
        (1..5i64).prop_map(Step::Flush),
    ];
    prop::collection::vec(step, 1..80)
}

#[test]
fn a_previous_secrets_entry_works_only_until_its_time() {
    let mut previous = entry(&Stored::default());
    previous.token.previous = Some(crate::db::tokens::Previous {
        hint: "kw_Old1…zzzz".into(),
        expires_at: 1_000,
    });
    let previous = Entry::new(previous.token, previous.workspace, Used::Previous);
    assert_eq!(&*previous.hint, "kw_Old1…zzzz");
    assert!(previous.secret_works(999));
    assert!(!previous.secret_works(1_000));
    assert!(
        entry(&Stored::default()).secret_works(i64::MAX),
        "the current secret"
    );
}

proptest! {
    /// Misses racing changes: once a change's invalidation (or a flush) is done, the
    /// cache serves the row as it is now, never what a slower miss read before.
    #[test]
    fn a_miss_that_raced_a_change_never_leaves_a_stale_entry(steps in steps()) {
        let cache = TokenCache::with_capacity(16);
        let mut row = Stored::default();
        let mut reads: [Option<(u64, Stored)>; 3] = Default::default();
        let mut uninvalidated = false;
        for step in steps {
            match step {
                Step::Read(n) => reads[n] = Some((cache.generation(), row.clone())),
                Step::Insert(n) => {
                    if let Some((seen, read)) = reads[n].take() {
                        cache.insert_if_current(seen, &HASH, entry(&read));
                    }
                }
                Step::Commit => {
                    row.version += 1;
                    uninvalidated = true;
                }
                Step::Invalidate => {
                    cache.invalidate();
                    uninvalidated = false;
                }
                Step::Flush(n) => {
                    row.count += n;
                    let mut pending = super::super::usage::Pending::default();
                    pending.count = n;
                    cache.apply_usage(&Batch::from_iter([("tok_1".to_owned(), pending)]));
                }
            }
            if let Some(served) = cache.cached(&HASH) {
                prop_assert_eq!(served.usage().0, row.count, "usage totals");
                if !uninvalidated {
                    prop_assert_eq!(&served.token.name, &format!("v{}", row.version));
                }
            }
        }
    }
}

fn other_hash(i: u8) -> SecretHash {
    SecretHash([i; 32])
}

/// A thread's front never serves an entry the cache let go: after an invalidation nothing,
/// and after the entry was evicted and read again, the new one, which flushes keep current.
#[test]
fn a_threads_front_serves_only_what_the_cache_holds_now() {
    let cache = TokenCache::with_capacity(2);
    let first = cache.insert_if_current(cache.generation(), &HASH, entry(&Stored::default()));
    let Some(served) = cache.cached(&HASH) else {
        panic!("the entry just cached")
    };
    assert!(Arc::ptr_eq(served.shared(), first.shared()));
    cache.invalidate();
    assert!(cache.cached(&HASH).is_none(), "served after invalidation");

    cache.insert_if_current(cache.generation(), &HASH, entry(&Stored::default()));
    assert!(cache.cached(&HASH).is_some());
    // Others push it out; it is read again, as a newer row.
    for i in 10..40 {
        cache.insert_if_current(
            cache.generation(),
            &other_hash(i),
            entry(&Stored::default()),
        );
    }
    let newer = Stored {
        version: 2,
        count: 0,
    };
    let second = cache.insert_if_current(cache.generation(), &HASH, entry(&newer));
    let mut pending = super::super::usage::Pending::default();
    pending.count = 5;
    cache.apply_usage(&Batch::from_iter([("tok_1".to_owned(), pending)]));
    let Some(served) = cache.cached(&HASH) else {
        panic!("the entry read again")
    };
    assert!(
        Arc::ptr_eq(served.shared(), second.shared()),
        "the front kept the evicted entry"
    );
    assert_eq!(served.token.name, "v2");
    assert_eq!(served.usage().0, 5);
}

/// Two caches in one thread (two servers in one test process) never see each other's
/// entries through the thread's front.
#[test]
fn a_front_never_mixes_two_caches() {
    let (one, two) = (TokenCache::with_capacity(4), TokenCache::with_capacity(4));
    one.insert_if_current(one.generation(), &HASH, entry(&Stored::default()));
    assert!(one.cached(&HASH).is_some());
    assert!(two.cached(&HASH).is_none());
}
