//! When a tenant's worker runs next, and why: a pure function of the clock,
//! the tenant's intervals, the earliest retry and what the last run asked
//! for. The worker's loop only sleeps until [`Schedule::wake_at`] and asks
//! [`Schedule::trigger_at`] what woke it.

use crate::daemon::status::Trigger;
use std::time::Duration;
use tokio::time::Instant;

/// The shortest wait before a retry that is already due: a run that ends
/// with a retry overdue never starts the next one at once, so nothing can
/// spin.
pub const RETRY_FLOOR: Duration = Duration::from_millis(50);

/// The soonest a provider's `recheck-after` brings the next look at its
/// resource: a recheck examines only the resources that asked for one (and
/// what Git moved), so it can come soon, but a provider asking for 0 ms
/// must not make the worker spin. Well under the second a chaos run may
/// end late.
pub const RECHECK_FLOOR: Duration = Duration::from_millis(200);

/// Spread of the poll interval (±10%), so that tenants do not poll in step.
pub const POLL_JITTER: f64 = 0.1;

/// When the next poll is, after a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Requeue {
    /// The run succeeded: the next poll comes after the tenant's interval,
    /// stretched by this factor (within 1 ± [`POLL_JITTER`]).
    Interval {
        /// The jitter factor drawn for this run.
        jitter: f64,
    },
    /// The run failed: the next attempt comes after this backoff.
    After(Duration),
}

impl Requeue {
    /// A poll after the interval, with a random jitter.
    pub fn interval() -> Self {
        Self::Interval {
            jitter: rand::random_range(1.0 - POLL_JITTER..=1.0 + POLL_JITTER),
        }
    }
}

/// The next poll, the next drift check and the next recheck of one
/// tenant.
#[derive(Debug, Clone)]
pub struct Schedule {
    interval: Duration,
    drift_interval: Duration,
    next_poll: Instant,
    next_drift: Instant,
    next_recheck: Option<Instant>,
}

impl Schedule {
    /// A schedule starting at `now`: the first poll is due at once (the
    /// start-up run), the first drift check one drift interval later.
    pub fn new(interval: Duration, drift_interval: Duration, now: Instant) -> Self {
        Self {
            interval,
            drift_interval,
            next_poll: now,
            next_drift: now + drift_interval,
            next_recheck: None,
        }
    }

    /// When to wake up next: the poll, the drift check, the recheck or the
    /// earliest retry (`retry`), whichever comes first; a retry at least
    /// [`RETRY_FLOOR`] after `now`.
    pub fn wake_at(&self, retry: Option<Instant>, now: Instant) -> Instant {
        let retry = retry.map(|at| at.max(now + RETRY_FLOOR));
        [self.next_poll, self.next_drift]
            .into_iter()
            .chain(self.next_recheck)
            .chain(retry)
            .min()
            .expect("there is always a next poll")
    }

    /// Why the worker woke at `now` when no webhook woke it: a drift check
    /// comes before a poll, a poll before a recheck, and a recheck before
    /// a retry.
    pub fn trigger_at(&self, now: Instant) -> Trigger {
        if now >= self.next_drift {
            Trigger::Drift
        } else if now >= self.next_poll {
            Trigger::Poll
        } else if self.recheck_due(now) {
            Trigger::Recheck
        } else {
            Trigger::Retry
        }
    }

    /// Whether a provider's recheck is due at `now`.
    pub fn recheck_due(&self, now: Instant) -> bool {
        self.next_recheck.is_some_and(|at| now >= at)
    }

    /// Whether a run for `trigger` at `now` is a drift check: the start-up
    /// run is one, and any run once the drift interval elapsed.
    pub fn drift_due(&self, trigger: Trigger, now: Instant) -> bool {
        trigger == Trigger::Start || now >= self.next_drift
    }

    /// Moves the schedule on after a run that ended at `now`.
    pub fn ran(&mut self, now: Instant, requeue: Requeue, drift_checked: bool) {
        self.next_poll = match requeue {
            Requeue::Interval { jitter } => now + self.interval.mul_f64(jitter),
            Requeue::After(delay) => now + delay,
        };
        if drift_checked {
            self.next_drift = now + self.drift_interval;
        }
    }

    /// Sets the next recheck from the last plan's `recheck-after`: at `at`
    /// (no sooner than [`RECHECK_FLOOR`] after `now`), or none when no
    /// provider asked. Every plan examines the resources that asked for a
    /// recheck, so the newest plan's answer replaces the one before.
    pub fn recheck(&mut self, now: Instant, at: Option<Instant>) {
        self.next_recheck = at.map(|at| at.max(now + RECHECK_FLOOR));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(60);
    const DRIFT: Duration = Duration::from_secs(600);

    fn at(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

    #[tokio::test(start_paused = true)]
    async fn a_recheck_wakes_the_worker_when_asked_never_below_its_floor() {
        let start = Instant::now();
        let mut schedule = Schedule::new(INTERVAL, DRIFT, start);
        schedule.ran(start, Requeue::Interval { jitter: 1.0 }, true);
        let asked = Duration::from_millis(4_300);
        schedule.recheck(start, Some(start + asked));
        assert_eq!(
            schedule.wake_at(None, start),
            start + asked,
            "to the millisecond"
        );
        assert_eq!(schedule.trigger_at(start + asked), Trigger::Recheck);
        assert!(
            !schedule.drift_due(Trigger::Recheck, start + asked),
            "a recheck is not a drift check of the whole tenant"
        );
        // A poll due at the same time wins, and the recheck stays due.
        assert_eq!(schedule.trigger_at(at(start, 60)), Trigger::Poll);
        assert!(schedule.recheck_due(at(start, 60)));

        // The next plan's answer replaces it: later, sooner, or none.
        schedule.recheck(at(start, 5), Some(at(start, 505)));
        assert_eq!(schedule.wake_at(None, at(start, 5)), at(start, 60));
        schedule.recheck(at(start, 5), Some(at(start, 5)));
        assert_eq!(
            schedule.wake_at(None, at(start, 5)),
            at(start, 5) + RECHECK_FLOOR,
            "a recheck due at once waits the floor"
        );
        schedule.recheck(at(start, 5), None);
        assert!(!schedule.recheck_due(at(start, 59)));
        assert_eq!(schedule.wake_at(None, at(start, 5)), at(start, 60));
    }

    #[tokio::test(start_paused = true)]
    async fn start_up_is_due_at_once_and_is_a_drift_check() {
        let start = Instant::now();
        let schedule = Schedule::new(INTERVAL, DRIFT, start);
        assert_eq!(schedule.wake_at(None, start), start);
        assert!(schedule.drift_due(Trigger::Start, start));
        assert!(!schedule.drift_due(Trigger::Webhook, start));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_polls_after_the_interval_with_its_jitter() {
        let start = Instant::now();
        let mut schedule = Schedule::new(INTERVAL, DRIFT, start);
        schedule.ran(start, Requeue::Interval { jitter: 1.1 }, true);
        assert_eq!(schedule.wake_at(None, start), at(start, 66));
        tokio::time::advance(Duration::from_secs(66)).await;
        let now = Instant::now();
        assert_eq!(schedule.trigger_at(now), Trigger::Poll);
        assert!(!schedule.drift_due(Trigger::Poll, now));
    }

    #[test]
    fn random_jitter_stays_within_its_spread() {
        for _ in 0..1000 {
            let Requeue::Interval { jitter } = Requeue::interval() else {
                panic!("an interval requeue");
            };
            assert!((1.0 - POLL_JITTER..=1.0 + POLL_JITTER).contains(&jitter));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_polls_after_its_backoff_not_the_interval() {
        let start = Instant::now();
        let mut schedule = Schedule::new(INTERVAL, DRIFT, start);
        schedule.ran(start, Requeue::After(Duration::from_secs(2)), true);
        assert_eq!(schedule.wake_at(None, start), at(start, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_drift_check_comes_due_after_the_drift_interval_and_wins_over_a_poll() {
        let start = Instant::now();
        let mut schedule = Schedule::new(INTERVAL, DRIFT, start);
        schedule.ran(start, Requeue::Interval { jitter: 1.0 }, true);
        // Polls every minute do not move the drift check.
        for minute in 1..10 {
            let now = at(start, minute * 60);
            assert_eq!(schedule.trigger_at(now), Trigger::Poll);
            schedule.ran(now, Requeue::Interval { jitter: 1.0 }, false);
        }
        let now = at(start, 600);
        assert_eq!(schedule.wake_at(None, at(start, 540)), now);
        assert_eq!(schedule.trigger_at(now), Trigger::Drift);
        assert!(schedule.drift_due(Trigger::Drift, now));
        schedule.ran(now, Requeue::Interval { jitter: 1.0 }, true);
        assert_eq!(schedule.trigger_at(at(start, 660)), Trigger::Poll);
    }

    #[tokio::test(start_paused = true)]
    async fn a_webhook_after_the_drift_interval_is_a_drift_check_too() {
        let start = Instant::now();
        let mut schedule = Schedule::new(INTERVAL, DRIFT, start);
        schedule.ran(start, Requeue::Interval { jitter: 1.0 }, true);
        assert!(!schedule.drift_due(Trigger::Webhook, at(start, 599)));
        assert!(schedule.drift_due(Trigger::Webhook, at(start, 600)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_wakes_before_the_poll_but_never_sooner_than_the_floor() {
        let start = Instant::now();
        let mut schedule = Schedule::new(INTERVAL, DRIFT, start);
        schedule.ran(start, Requeue::Interval { jitter: 1.0 }, true);
        let retry = at(start, 5);
        assert_eq!(schedule.wake_at(Some(retry), start), retry);
        assert_eq!(schedule.trigger_at(retry), Trigger::Retry);
        // Overdue already: not at once, after the floor.
        let late = at(start, 10);
        assert_eq!(schedule.wake_at(Some(retry), late), late + RETRY_FLOOR);
        // Later than the poll: the poll comes first.
        assert_eq!(schedule.wake_at(Some(at(start, 100)), start), at(start, 60));
    }
}
