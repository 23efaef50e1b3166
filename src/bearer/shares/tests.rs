use super::lease::left_of;
use super::*;
use crate::domain::rate::Window;

fn h(limit: u32) -> Limit {
    Limit {
        limit,
        per: Window::Hour,
    }
}

#[test]
fn shares_add_up_to_what_is_left_and_differ_by_one_at_most() {
    for left in [0u32, 1, 2, 99, 100, 101, 1000] {
        for n in 1u32..=7 {
            let shares: Vec<u32> = (0..n).map(|r| share_of(left, n, r)).collect();
            assert_eq!(shares.iter().sum::<u32>(), left, "{left} over {n}");
            let (min, max) = (shares.iter().min(), shares.iter().max());
            assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
        }
    }
}

#[test]
fn a_budget_has_left_its_limit_less_what_its_arrival_time_holds() {
    let i = interval_ns(h(10));
    assert_eq!(left_of(h(10), 0, 0), 10, "full");
    assert_eq!(left_of(h(10), 3 * i, 0), 7);
    assert_eq!(
        left_of(h(10), 3 * i - 1, 0),
        7,
        "a unit partly refilled is not back"
    );
    assert_eq!(left_of(h(10), 10 * i, 0), 0);
    assert_eq!(left_of(h(10), 20 * i, 0), 0, "overdrawn");
}

/// Three servers sync in turn, each having been sent `sent(rank)` requests since its last
/// sync (allowing what its lease held); returns the total allowed over `rounds` rounds.
fn allowed_over(rounds: usize, sent: impl Fn(usize) -> u32) -> u32 {
    let mut tat = 0;
    let mut leases = [0u32; 3];
    let mut allowed = 0;
    for _ in 0..rounds {
        for rank in 0..3 {
            let spent = sent(rank).min(leases[rank]);
            allowed += spent;
            let others = (0..3)
                .filter(|r| *r != rank)
                .map(|r| i64::from(leases[r]))
                .sum();
            let stored = db::budgets::Stored {
                tat_ns: tat,
                others,
            };
            let own = (leases[rank], leases[rank] - spent);
            let (next, lease) = relet(h(300), stored, own, (3, rank as u32), 0);
            tat = next;
            leases[rank] = lease;
        }
        let leased: u32 = leases.iter().sum();
        assert!(
            allowed + leased <= 300,
            "{allowed} allowed and {leased} leased"
        );
    }
    allowed
}

#[test]
fn servers_that_spend_every_lease_allow_the_budget_exactly() {
    assert_eq!(allowed_over(10, |_| 40), 300);
}

#[test]
fn one_busy_server_reaches_99_percent_of_the_budget_within_25_syncs() {
    // Every request goes to server 0; the idle two hold their even parts, renewed each sync
    // from what is left, so the busy one gets about a third of it per sync.
    let rounds = (1..=40)
        .find(|r| allowed_over(*r, |rank| if rank == 0 { 1_000 } else { 0 }) >= 297)
        .unwrap_or(0);
    assert!((1..=25).contains(&rounds), "{rounds} syncs");
}

#[test]
fn a_server_takes_its_even_part_never_more_than_is_free_and_none_when_stopping() {
    let fresh = db::budgets::Stored::default();
    assert_eq!(relet(h(300), fresh, (100, 40), (0, 0), 0).1, 0, "stopping");
    assert_eq!(relet(h(300), fresh, (0, 0), (3, 0), 0), (0, 100));
    let held = db::budgets::Stored {
        tat_ns: 0,
        others: 250,
    };
    assert_eq!(
        relet(h(300), held, (0, 0), (3, 0), 0).1,
        50,
        "never more than is free"
    );
}

#[test]
fn a_key_without_requests_for_ten_syncs_is_given_back_and_forgotten() {
    let shares = Shares::new();
    assert!(!shares.holds("k", &Limits::hourly(10)));
    let _ = shares.spend("k", &Limits::hourly(10), None);
    assert!(shares.holds("k", &Limits::hourly(10)));
    for sync in 1..IDLE_SYNCS {
        let (busy, idle) = shares.split_idle();
        assert_eq!((busy.len(), idle.len()), (1, 0), "sync {sync}");
    }
    let (busy, idle) = shares.split_idle();
    assert_eq!((busy.len(), idle.len()), (0, 1));
}

#[test]
fn a_lease_taken_for_fewer_servers_is_renewed_at_the_next_sync() {
    let shares = Shares::new();
    let lease = Share {
        lease: 100,
        allowance: 80,
        fresh: true,
        among: 1,
        ..Share::empty(h(100), 0)
    };
    let key = BudgetKey {
        key: "k".into(),
        per: Window::Hour,
    };
    shares.lock().insert(key.clone(), lease.clone());
    // Alone, renewed last time and most of it left: it waits a sync (halves the writes).
    let (busy, idle) = shares.split_idle();
    assert_eq!((busy.len(), idle.len()), (0, 0));
    // A second server joined: the lease holds the whole budget, so it is cut now.
    shares.lock().insert(key, lease);
    shares.peers.store(2 << 32, Ordering::Relaxed);
    let (busy, idle) = shares.split_idle();
    assert_eq!((busy.len(), idle.len()), (1, 0));
}

#[test]
fn requests_allowed_while_a_sync_writes_come_out_of_the_new_lease_or_stay_owed() {
    // A lease of 10 with `allowance` left when the sync read 4 unused, renewed with `lease`:
    // the (lease, allowance) it holds then.
    let renewed = |allowance, lease| {
        let mut s = Share {
            lease: 10,
            allowance,
            ..Share::empty(h(300), 0)
        };
        s.renew(lease, 4);
        (s.lease, s.allowance)
    };
    // 3 requests were allowed before the sync committed.
    assert_eq!(renewed(1, 20), (20, 17), "out of the new lease");
    assert_eq!(renewed(1, 2), (3, 0), "one past the new lease, owed");
    // Given back (no new lease): the 3 stay owed, and the next sync adds them to the budget.
    let given_back = renewed(1, 0);
    assert_eq!(given_back, (3, 0));
    let (tat, _) = relet(
        h(300),
        db::budgets::Stored::default(),
        given_back,
        (1, 0),
        0,
    );
    assert_eq!(tat, 3 * interval_ns(h(300)));
    // Nothing allowed meanwhile: nothing owed, and the key can be forgotten.
    assert_eq!(renewed(4, 0), (0, 0));
}

#[tokio::test]
async fn a_stopped_server_takes_no_lease_for_a_request_still_in_flight() {
    let Ok(db) = crate::db::connect("sqlite::memory:").await else {
        panic!("an in-memory database opens");
    };
    let shares = Shares::new();
    shares.closed.store(true, Ordering::Release);
    let key = BudgetKey {
        key: "k".into(),
        per: Window::Hour,
    };
    assert!(shares.load(&db, &[(key, h(100))]).await.is_ok());
    assert!(!shares.holds("k", &Limits::hourly(100)));
    let spent = shares.spend("k", &Limits::hourly(100), None);
    assert!(!spent.allowed(), "refused: no lease to spend from");
}

#[tokio::test]
async fn a_key_given_back_while_a_request_spent_takes_a_new_lease_at_its_next_request() {
    let Ok(db) = crate::db::connect("sqlite::memory:").await else {
        panic!("an in-memory database opens");
    };
    assert!(crate::db::migrate(&db).await.is_ok());
    let shares = Shares::new();
    let limits = Limits::hourly(1_000);
    let key = BudgetKey {
        key: "k".into(),
        per: Window::Hour,
    };
    let keys = vec![(key.clone(), h(1_000))];
    assert!(shares.load(&db, &keys).await.is_ok());
    assert!(shares.holds("k", &limits));
    // A give-back (no new lease) reads the lease; a request spends before it ends.
    let held_now = shares.leases_of(&keys);
    assert!(shares.spend("k", &limits, None).allowed());
    let given_back = Decided {
        key: key.clone(),
        limit: h(1_000),
        tat: 0,
        lease: 0,
        others: 0,
        unused: held_now[0].1,
    };
    settle(&mut shares.lock(), [given_back], false, 0, 0);
    let owed = shares.lock().get(&key).map(|s| (s.lease, s.allowance));
    assert_eq!(owed, Some((1, 0)), "kept, owing the unit");
    assert!(!shares.holds("k", &limits), "owing, not held");
    // The next request takes the slow path, which takes a lease: allowed, not refused.
    assert!(shares.load(&db, &keys).await.is_ok());
    assert!(shares.holds("k", &limits));
    assert!(shares.spend("k", &limits, None).allowed());
}
