//! Exponential backoff with jitter and a cap, per key, reset on success.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;
use tokio::time::Instant;

/// The first retry waits about this long; each failure doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);

/// Spread of each delay (±20%), so that failures that began together do not
/// retry together.
const JITTER: f64 = 0.2;

/// Failure counts and next attempts, per key.
#[derive(Debug)]
pub struct Backoff<K> {
    cap: Duration,
    entries: HashMap<K, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    next_attempt: Instant,
}

impl<K: Eq + Hash + Clone> Backoff<K> {
    /// Delays grow from [`BACKOFF_BASE`] up to `cap`.
    pub fn new(cap: Duration) -> Self {
        Self {
            cap: cap.max(BACKOFF_BASE),
            entries: HashMap::new(),
        }
    }

    /// Records a failure; returns the delay until the next attempt.
    pub fn fail(&mut self, key: K) -> Duration {
        let entry = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            next_attempt: Instant::now(),
        });
        entry.failures = entry.failures.saturating_add(1);
        let exponent = entry.failures.saturating_sub(1).min(20);
        let delay = BACKOFF_BASE.saturating_mul(1 << exponent).min(self.cap);
        let factor = rand::random_range(1.0 - JITTER..=1.0 + JITTER);
        let delay = delay.mul_f64(factor).min(self.cap);
        entry.next_attempt = Instant::now() + delay;
        delay
    }

    /// Forgets the key's failures.
    pub fn succeed(&mut self, key: &K) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Whether the key may be tried now.
    pub fn is_due(&self, key: &K) -> bool {
        self.entries
            .get(key)
            .is_none_or(|entry| entry.next_attempt <= Instant::now())
    }

    /// Keys waiting for their next attempt.
    pub fn waiting(&self) -> impl Iterator<Item = &K> {
        let now = Instant::now();
        self.entries
            .iter()
            .filter(move |(_, entry)| entry.next_attempt > now)
            .map(|(key, _)| key)
    }

    /// The earliest next attempt, which may have come due already: a key
    /// whose attempt came due while a run held it back is still waiting
    /// for that attempt.
    pub fn next_attempt(&self) -> Option<Instant> {
        self.entries.values().map(|entry| entry.next_attempt).min()
    }

    /// Whether some failing key may be tried again now.
    pub fn any_due(&self) -> bool {
        let now = Instant::now();
        self.entries.values().any(|entry| entry.next_attempt <= now)
    }

    /// Every failing key.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.keys()
    }

    /// How many times the key failed in a row.
    pub fn failures(&self, key: &K) -> u32 {
        self.entries.get(key).map_or(0, |entry| entry.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_on_success() {
        let mut backoff = Backoff::new(Duration::from_secs(10));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.fail("a")).collect();
        let within = |delay: Duration, nominal: f64| {
            let seconds = delay.as_secs_f64();
            seconds >= nominal * (1.0 - JITTER) - 1e-9
                && seconds <= (nominal * (1.0 + JITTER)).min(10.0) + 1e-9
        };
        for (delay, nominal) in delays.iter().zip([1.0, 2.0, 4.0, 8.0, 10.0, 10.0]) {
            assert!(within(*delay, nominal), "{delay:?} is not about {nominal}s");
        }
        assert!(!backoff.is_due(&"a"));
        assert!(backoff.is_due(&"b"), "other keys are not held up");
        assert_eq!(backoff.failures(&"a"), 6);
        assert!(backoff.succeed(&"a"));
        assert!(backoff.is_due(&"a"));
        assert_eq!(backoff.failures(&"a"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_came_due_is_still_the_next_one() {
        let mut backoff = Backoff::new(Duration::from_secs(10));
        assert_eq!(backoff.next_attempt(), None);
        let delay = backoff.fail("a");
        tokio::time::advance(delay + Duration::from_millis(1)).await;
        // It came due while nothing looked: it must still wake the worker.
        let next = backoff.next_attempt().expect("a is waiting");
        assert!(next <= Instant::now());
        assert!(backoff.any_due());
        assert_eq!(backoff.waiting().count(), 0);
        backoff.succeed(&"a");
        assert_eq!(backoff.next_attempt(), None);
    }
}
