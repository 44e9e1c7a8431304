//! Repeated warnings, rate-limited with a count.
//!
//! A flood of identical warnings — a bad webhook a thousand times a second,
//! a connection refused for each of ten thousand attempts — fills the disk
//! and buries the one line that matters. A [`Throttle`] lets the first few
//! warnings of each kind through in every window, counts the rest, and then
//! says how many it held back in one line: `refused a webhook …: 587 more
//! like this in the last 10 s`. The count is written when the next warning
//! of the kind opens a new window, or by [`Throttle::summarise`] (which the
//! owner calls about once a window), so a flood that stops is still
//! accounted for.
//!
//! A kind is a message (a `&'static str`, so a caller cannot make kinds
//! without bound) and an optional scope, such as a tenant's name; only names
//! from a bounded set (the operator's tenants) belong in a scope, never a
//! value an anonymous caller chose.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Kinds one throttle tracks at most; past this, warnings of new kinds are
/// counted under their message alone (without their scope), so that even a
/// caller passing unbounded scopes cannot grow the table.
pub const MAX_KINDS: usize = 1024;

/// A warning's kind: its message and its scope.
type Kind = (&'static str, Option<String>);

/// One kind's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// When it opened.
    opened: Instant,
    /// Warnings let through in it.
    written: u32,
    /// Warnings held back in it.
    held: u64,
}

/// Rate-limits warnings by kind: [`Throttle::admit`] says whether to write
/// one.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    burst: u32,
    kinds: Mutex<BTreeMap<Kind, Window>>,
}

/// The warnings of one kind held back in a window that has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The warning's message.
    pub message: &'static str,
    /// Its scope (a tenant's name, say).
    pub scope: Option<String>,
    /// How many were held back.
    pub count: u64,
}

impl Throttle {
    /// Lets `burst` warnings of each kind through per `window`.
    pub const fn new(window: Duration, burst: u32) -> Self {
        Self {
            window,
            burst,
            kinds: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether to write a warning of kind (`message`, `scope`) now. When it
    /// opens a new window after one that held warnings back, their count is
    /// written first, as a warning of its own.
    pub fn admit(&self, message: &'static str, scope: Option<&str>) -> bool {
        let (admitted, held) = self.admit_at(message, scope, Instant::now());
        if let Some(held) = held {
            self.write(&held);
        }
        admitted
    }

    /// [`Throttle::admit`] at `now`, without writing: whether to write the
    /// warning, and what the window it closed held back.
    pub fn admit_at(
        &self,
        message: &'static str,
        scope: Option<&str>,
        now: Instant,
    ) -> (bool, Option<Held>) {
        let mut kinds = self.kinds.lock().expect("throttle table");
        let mut kind = (message, scope.map(str::to_string));
        if kinds.len() >= MAX_KINDS && !kinds.contains_key(&kind) {
            kind.1 = None;
        }
        let fresh = Window {
            opened: now,
            written: 1,
            held: 0,
        };
        let Some(window) = kinds.get_mut(&kind) else {
            kinds.insert(kind, fresh);
            return (true, None);
        };
        if now.saturating_duration_since(window.opened) >= self.window {
            let held = std::mem::replace(window, fresh).held;
            let held = (held > 0).then(|| Held {
                message,
                scope: kind.1.clone(),
                count: held,
            });
            return (true, held);
        }
        if window.written < self.burst {
            window.written += 1;
            return (true, None);
        }
        window.held += 1;
        (false, None)
    }

    /// Writes the counts of the windows that have ended with warnings held
    /// back, and forgets the kinds that have been quiet for a window.
    pub fn summarise(&self) {
        for held in self.summarise_at(Instant::now()) {
            self.write(&held);
        }
    }

    /// [`Throttle::summarise`] at `now`, without writing: what the ended
    /// windows held back.
    pub fn summarise_at(&self, now: Instant) -> Vec<Held> {
        let mut kinds = self.kinds.lock().expect("throttle table");
        let mut ended = Vec::new();
        kinds.retain(|(message, scope), window| {
            if now.saturating_duration_since(window.opened) < self.window {
                return true;
            }
            if window.held > 0 {
                ended.push(Held {
                    message,
                    scope: scope.clone(),
                    count: window.held,
                });
            }
            false
        });
        ended
    }

    fn write(&self, held: &Held) {
        let seconds = self.window.as_secs_f64();
        let Held {
            message,
            scope,
            count,
        } = held;
        match scope {
            Some(scope) => tracing::warn!(
                scope = %scope,
                suppressed = count,
                "{message}: {count} more like this in the last {seconds} s"
            ),
            None => tracing::warn!(
                suppressed = count,
                "{message}: {count} more like this in the last {seconds} s"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: &str = "refused a webhook";
    const WINDOW: Duration = Duration::from_secs(10);

    #[test]
    fn a_burst_is_let_through_and_the_rest_is_counted_once_per_window() {
        let throttle = Throttle::new(WINDOW, 3);
        let start = Instant::now();
        let admitted: Vec<bool> = (0..100)
            .map(|i| {
                throttle
                    .admit_at(BAD, None, start + Duration::from_millis(i))
                    .0
            })
            .collect();
        assert_eq!(admitted.iter().filter(|a| **a).count(), 3);
        assert!(admitted[..3].iter().all(|a| *a), "the first three pass");
        // Nothing is summarised before the window ends.
        assert!(
            throttle
                .summarise_at(start + Duration::from_secs(9))
                .is_empty()
        );
        // The next warning after the window opens a new one and carries the
        // count of the last.
        let (admitted, held) = throttle.admit_at(BAD, None, start + WINDOW);
        assert!(admitted);
        assert_eq!(
            held,
            Some(Held {
                message: BAD,
                scope: None,
                count: 97
            })
        );
    }

    #[test]
    fn a_flood_that_stops_is_summarised_and_forgotten() {
        let throttle = Throttle::new(WINDOW, 1);
        let start = Instant::now();
        for _ in 0..50 {
            throttle.admit_at(BAD, Some("default"), start);
        }
        throttle.admit_at("another kind", None, start);
        let held = throttle.summarise_at(start + WINDOW);
        assert_eq!(
            held,
            [Held {
                message: BAD,
                scope: Some("default".into()),
                count: 49
            }]
        );
        assert!(throttle.summarise_at(start + 2 * WINDOW).is_empty());
        assert!(
            throttle.kinds.lock().unwrap().is_empty(),
            "quiet kinds are forgotten"
        );
        // A forgotten kind starts afresh, with nothing to carry.
        assert_eq!(
            throttle.admit_at(BAD, Some("default"), start + 3 * WINDOW),
            (true, None)
        );
    }

    #[test]
    fn scopes_are_counted_apart_and_bounded() {
        let throttle = Throttle::new(WINDOW, 1);
        let start = Instant::now();
        assert!(throttle.admit_at(BAD, Some("a"), start).0);
        assert!(throttle.admit_at(BAD, Some("b"), start).0);
        assert!(!throttle.admit_at(BAD, Some("a"), start).0);
        for i in 0..(MAX_KINDS * 2) {
            throttle.admit_at(BAD, Some(&format!("n{i}")), start);
        }
        assert!(throttle.kinds.lock().unwrap().len() <= MAX_KINDS + 1);
    }
}
