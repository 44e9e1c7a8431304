//! When an experiment's runs are due: once as soon as it is applied, once
//! at a time, or at the times of a cron expression (with seconds, in UTC),
//! up to a cap. A run due while another is in progress waits for it: runs
//! of one experiment never overlap, and slots missed meanwhile (or while
//! no daemon held the tenant) are not caught up one by one.

use crate::spec::Schedule;
use chrono::{DateTime, Utc};
use std::str::FromStr;

/// Reads a cron expression: six fields, seconds first (`*/10 * * * * *`),
/// or seven with years.
pub fn parse_cron(text: &str) -> Result<cron::Schedule, String> {
    let fields = text.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(format!(
            "it has {fields} fields, and a schedule has six (seconds first) or seven (with years)"
        ));
    }
    cron::Schedule::from_str(text).map_err(|error| error.to_string())
}

/// When the next run is due: `None` once the schedule has no more runs.
/// `armed` is when the experiment was first applied, `runs` how many runs
/// it had (skipped ones included), `last_start` when the last one began.
pub fn next_due(
    schedule: &Schedule,
    armed: DateTime<Utc>,
    runs: u32,
    last_start: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if schedule.max_runs.is_some_and(|cap| runs >= cap) {
        return None;
    }
    if let Some(cron) = &schedule.cron {
        let after = last_start.unwrap_or(armed);
        return parse_cron(cron).ok()?.after(&after).next();
    }
    if runs > 0 {
        return None;
    }
    match &schedule.at {
        Some(at) => DateTime::parse_from_rfc3339(at)
            .ok()
            .map(|at| at.with_timezone(&Utc)),
        None => Some(armed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn once_runs_at_once_or_at_its_time_and_never_again() {
        let armed = at("2026-12-03T10:00:00Z");
        let now = Schedule::default();
        assert_eq!(next_due(&now, armed, 0, None), Some(armed));
        assert_eq!(next_due(&now, armed, 1, Some(armed)), None);
        let later = Schedule {
            at: Some("2026-12-03T11:00:00Z".into()),
            ..Schedule::default()
        };
        assert_eq!(
            next_due(&later, armed, 0, None),
            Some(at("2026-12-03T11:00:00Z"))
        );
        assert_eq!(next_due(&later, armed, 1, Some(armed)), None);
    }

    #[test]
    fn a_cron_schedule_runs_after_the_last_start_up_to_its_cap() {
        let every_ten = Schedule {
            cron: Some("*/10 * * * * *".into()),
            max_runs: Some(2),
            ..Schedule::default()
        };
        let armed = at("2026-12-03T10:00:03Z");
        assert_eq!(
            next_due(&every_ten, armed, 0, None),
            Some(at("2026-12-03T10:00:10Z"))
        );
        // A run that started late (the last one overran) is followed by
        // the next slot after it, not by the slots it missed.
        assert_eq!(
            next_due(&every_ten, armed, 1, Some(at("2026-12-03T10:00:34Z"))),
            Some(at("2026-12-03T10:00:40Z"))
        );
        assert_eq!(
            next_due(&every_ten, armed, 2, Some(at("2026-12-03T10:00:40Z"))),
            None
        );
    }

    #[test]
    fn cron_expressions_need_seconds() {
        assert!(parse_cron("*/5 * * * *").unwrap_err().contains("5 fields"));
        assert!(parse_cron("0 */5 * * * *").is_ok());
        assert!(parse_cron("x * * * * *").is_err());
    }
}
