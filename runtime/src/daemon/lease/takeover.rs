//! When a daemon may take a lease another daemon let run out, and when it
//! may move tenants toward its share: pure functions of what it has seen
//! of the store, by its own monotonic clock.
//!
//! A lease runs out when its holder does not renew it in time. That says
//! the holder is dead — or that it could not reach the store, and neither
//! could anyone: after a store outage longer than a lease, every lease and
//! every heartbeat has run out, and the first daemon to reconnect would
//! otherwise find itself alone and take every tenant from daemons that are
//! alive and about to renew. So a daemon takes a lease that ran out only
//! once it has itself seen the store answer, without a break, for a whole
//! lease period `L` ([`StoreWatch`]); until then it renews what it holds,
//! gives nothing up, and takes only leases that are free — never taken, or
//! given up by their holder ([`may_take`], [`rebalance`]).
//!
//! Why `L` is enough: a daemon that reaches the store renews every `L/5`,
//! so within `L` of the store answering again every live daemon that
//! reaches it has renewed its leases (with the same tokens: no one took
//! them). What still ran out after that belongs to a daemon that did not
//! reach the store for a whole period while this one did: dead, or cut off
//! from the store alone, which is the failover leases are for.
//!
//! Why no break may be longer than two looks (`2L/5`): a live holder's
//! lease runs out only when its renewals fail for longer than that (it
//! renews every `L/5` for `4L/5`, so its renewals at `L/5`, `2L/5` and
//! `3L/5` after the last good one must all fail). An outage this daemon did
//! not see — it was paused, or one look took that long — may have been such
//! an outage; the watch starts again.
//!
//! Bound: a daemon that died during an outage has its tenants taken over
//! at the others' first look after they have seen the store answer for
//! `L`. They see it within a look (`L/5`, plus the pool's reconnection)
//! and look every `L/5`: within `L + 2L/5` of the store answering again,
//! plus the reconnection, so within `2L`.

use super::LeaseTiming;
use crate::store::LeaseRecord;
use std::time::{Duration, Instant};

/// What a look finds of the lease of a tenant this daemon does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Never taken, or given up by its holder (stopping, or rebalancing):
    /// no daemon counts on it.
    Free,
    /// Its holder did not renew it in time: dead, or cut off from the
    /// store, as everyone is during an outage.
    RanOut,
    /// Held: renewed in time.
    Held,
}

impl Found {
    /// The state of a tenant's lease row (`None`: never taken).
    pub fn of(lease: Option<&LeaseRecord>) -> Self {
        match lease {
            None => Self::Free,
            Some(lease) if lease.live => Self::Held,
            // `leave` and `release_lease` set the expiry to 0.
            Some(lease) if lease.expires_at == 0 => Self::Free,
            Some(_) => Self::RanOut,
        }
    }
}

/// What this daemon has seen of the store: since when it has answered
/// without a break, by this process's monotonic clock (never the store's,
/// nor another daemon's).
#[derive(Debug, Clone, Copy)]
pub struct StoreWatch {
    /// How long the store must answer before leases that ran out may be
    /// taken: the lease period.
    settle: Duration,
    /// The longest silence between two answers that is no break: two
    /// looks. A longer one may hide an outage that let a live daemon's
    /// leases run out.
    silence: Duration,
    /// The first answer of the current stretch without a break.
    answering_since: Option<Instant>,
    /// The latest answer.
    last_answer: Option<Instant>,
}

impl StoreWatch {
    /// A watch that has seen nothing yet, for a lease timing.
    pub fn new(timing: LeaseTiming) -> Self {
        Self {
            settle: timing.period,
            silence: timing.tick * 2,
            answering_since: None,
            last_answer: None,
        }
    }

    /// The store answered at `at`: a stretch starts, or goes on when the
    /// last answer is recent enough.
    pub fn answered(&mut self, at: Instant) {
        let unbroken = self
            .last_answer
            .is_some_and(|last| at.saturating_duration_since(last) <= self.silence);
        if !unbroken || self.answering_since.is_none() {
            self.answering_since = Some(at);
        }
        self.last_answer = Some(at);
    }

    /// The store did not answer: the stretch is broken.
    pub fn failed(&mut self) {
        self.answering_since = None;
        self.last_answer = None;
    }

    /// Whether, at `now`, the store has answered without a break for a
    /// whole lease period — and still does.
    pub fn settled(&self, now: Instant) -> bool {
        match (self.answering_since, self.last_answer) {
            (Some(since), Some(last)) => {
                now.saturating_duration_since(since) >= self.settle
                    && now.saturating_duration_since(last) <= self.silence
            }
            _ => false,
        }
    }
}

/// Whether a look may take a tenant whose lease it finds so.
pub fn may_take(found: Found, settled: bool) -> bool {
    match found {
        Found::Free => true,
        Found::RanOut => settled,
        Found::Held => false,
    }
}

/// What a look does about this daemon's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebalance {
    /// Nothing moves.
    Keep,
    /// Give this many tenants up.
    GiveUp(usize),
    /// Take up to this many tenants (each as [`may_take`] allows).
    Take(usize),
}

/// The move toward this daemon's share, `ceil(tenants / alive)`, when it
/// holds `held` and counts `alive` daemons (itself included). Until it is
/// settled its count may miss daemons that have yet to reconnect, so it
/// gives nothing up: only free leases may move then.
pub fn rebalance(tenants: usize, alive: usize, held: usize, settled: bool) -> Rebalance {
    let share = tenants.div_ceil(alive.max(1));
    if held > share && settled {
        Rebalance::GiveUp(held - share)
    } else if held < share {
        Rebalance::Take(share - held)
    } else {
        Rebalance::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease period of 10 s: looks every 2 s, breaks past 4 s.
    fn timing() -> LeaseTiming {
        LeaseTiming::new(Duration::from_secs(10))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// What the store did, at a millisecond of the test's clock.
    #[derive(Debug, Clone, Copy)]
    enum Seen {
        Answered(u64),
        Failed,
    }

    fn watch_after(events: &[Seen]) -> (StoreWatch, Instant) {
        let start = Instant::now();
        let mut watch = StoreWatch::new(timing());
        for event in events {
            match event {
                Seen::Answered(at) => watch.answered(start + ms(*at)),
                Seen::Failed => watch.failed(),
            }
        }
        (watch, start)
    }

    /// Every look (2 s) from `from` to `to`, both included.
    fn looks(from: u64, to: u64) -> Vec<Seen> {
        (from..=to).step_by(2_000).map(Seen::Answered).collect()
    }

    #[test]
    fn the_store_must_answer_a_whole_lease_period_without_a_break() {
        use Seen::*;
        // Answers every look, then failures for 10 s, then answers again.
        let outage = |back_until: u64| {
            [
                looks(0, 20_000),
                vec![Failed, Failed],
                looks(30_000, back_until),
            ]
            .concat()
        };
        // (what the store did, when the daemon asks) → settled.
        let cases: Vec<(&str, Vec<Seen>, u64, bool)> = vec![
            ("nothing seen yet", vec![], 60_000, false),
            ("just started", vec![Answered(0)], 0, false),
            ("started, one look short", looks(0, 8_000), 9_999, false),
            ("started, a lease period on", looks(0, 10_000), 10_000, true),
            ("long settled", looks(0, 60_000), 60_000, true),
            ("back after an outage", outage(30_000), 30_000, false),
            (
                "back, one period less a look",
                outage(38_000),
                38_000,
                false,
            ),
            ("back for a lease period", outage(40_000), 40_000, true),
            (
                "a failure right now",
                [looks(0, 20_000), vec![Failed]].concat(),
                20_000,
                false,
            ),
            // Silent past two looks: paused, or a look that long. The
            // stretch starts again at the answer after the silence.
            (
                "a silence of 4.001 s",
                [looks(0, 20_000), looks(24_001, 32_001)].concat(),
                32_001,
                false,
            ),
            (
                "a lease period after the silence",
                [looks(0, 20_000), looks(24_001, 34_001)].concat(),
                34_001,
                true,
            ),
            (
                "a silence of exactly two looks",
                [looks(0, 20_000), looks(24_000, 30_000)].concat(),
                30_000,
                true,
            ),
            // Asked long after the last answer: the store may be gone.
            ("no answer for 4.001 s", looks(0, 20_000), 24_001, false),
            ("no answer for 4 s", looks(0, 20_000), 24_000, true),
        ];
        for (name, events, asked_at, settled) in cases {
            let (watch, start) = watch_after(&events);
            assert_eq!(watch.settled(start + ms(asked_at)), settled, "{name}");
        }
    }

    #[test]
    fn a_lease_that_ran_out_is_taken_only_once_settled() {
        // (found, settled) → may take.
        let cases = [
            (Found::Free, false, true),
            (Found::Free, true, true),
            (Found::RanOut, false, false),
            (Found::RanOut, true, true),
            (Found::Held, false, false),
            (Found::Held, true, false),
        ];
        for (found, settled, expected) in cases {
            assert_eq!(may_take(found, settled), expected, "{found:?} {settled}");
        }
    }

    #[test]
    fn a_lease_row_is_free_held_or_run_out() {
        let row = |expires_at: i64, live: bool| LeaseRecord {
            tenant: "t".into(),
            holder: "a".into(),
            holder_address: None,
            token: 3,
            acquired_at: 1,
            expires_at,
            live,
        };
        assert_eq!(Found::of(None), Found::Free);
        assert_eq!(Found::of(Some(&row(0, false))), Found::Free);
        assert_eq!(Found::of(Some(&row(5_000, false))), Found::RanOut);
        assert_eq!(Found::of(Some(&row(5_000, true))), Found::Held);
    }

    #[test]
    fn shares_move_only_once_settled_except_to_take_free_leases() {
        use Rebalance::*;
        // (tenants, alive, held, settled) → move.
        let cases = [
            // Three daemons, twelve tenants: four each.
            (12, 3, 4, true, Keep),
            (12, 3, 4, false, Keep),
            // Back first after an outage: alone by the heartbeats, it would
            // take all twelve; only free ones may come (there are none).
            (12, 1, 4, false, Take(8)),
            // A daemon died: the two left take their share, once settled
            // (what they may take is `may_take`'s).
            (12, 2, 4, true, Take(2)),
            // A daemon joined: the others give their surplus up...
            (12, 4, 4, true, GiveUp(1)),
            // ...but not while they may not see every daemon yet.
            (12, 4, 4, false, Keep),
            // Nobody counted (the count failed to include even itself).
            (12, 0, 0, true, Take(12)),
            // Uneven: ceil(10 / 3) = 4.
            (10, 3, 4, true, Keep),
            (10, 3, 2, true, Take(2)),
        ];
        for (tenants, alive, held, settled, expected) in cases {
            assert_eq!(
                rebalance(tenants, alive, held, settled),
                expected,
                "{tenants} tenants, {alive} alive, {held} held, settled: {settled}"
            );
        }
    }

    /// The outage of issue 18, replayed on the decisions: three daemons
    /// with four tenants each; PostgreSQL is gone for 20 s (two lease
    /// periods) and every lease and heartbeat runs out; daemon `a` comes
    /// back first and counts itself alone.
    #[test]
    fn after_an_outage_the_first_back_takes_nothing_from_the_living() {
        let (mut watch, start) = watch_after(
            &[
                looks(0, 30_000),
                vec![Seen::Failed],
                vec![Seen::Answered(50_000)],
            ]
            .concat(),
        );
        let now = start + ms(50_000);
        let settled = watch.settled(now);
        assert!(!settled);
        let Rebalance::Take(wanted) = rebalance(12, 1, 4, settled) else {
            panic!("alone, it wants more");
        };
        assert_eq!(wanted, 8);
        // The eight other tenants' leases ran out: none may be taken.
        assert!(!may_take(Found::RanOut, settled));
        // The others renew within a look; had one died meanwhile, its
        // leases are taken at the first look a lease period on.
        for at in (52_000..60_000).step_by(2_000) {
            watch.answered(start + ms(at));
            assert!(!watch.settled(start + ms(at)), "{at}");
        }
        watch.answered(start + ms(60_000));
        let settled = watch.settled(start + ms(60_000));
        assert!(settled);
        assert_eq!(rebalance(12, 2, 4, settled), Rebalance::Take(2));
        assert!(may_take(Found::RanOut, settled));
    }
}
