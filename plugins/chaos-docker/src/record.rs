//! An experiment's record: the spec it was last applied with and its
//! status — how many runs it had, the run in progress and how the last one
//! ended. It is the experiment's observed state, kept in the engine itself
//! (`marker.rs`), so that whoever holds the tenant next, after a crash or a
//! lost state store, finds a run in progress and restores its targets.

use crate::spec::{Experiment, Fault};
use cairn_sdk::Error;
use cairn_sdk::serde_json::{Map, Value};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One container a run acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hit {
    /// The container's id.
    pub id: String,
    /// Its name, for people.
    pub name: String,
    /// The app it is a replica of, when the apps provider made it: the
    /// run holds that app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The fault is in effect.
    Running,
    /// The targets were restored; the probes must pass again before
    /// `recover_by`.
    Recovering,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// It lasted its duration, and the probes passed after the restore.
    Completed,
    /// A probe failed beyond its tolerance (or the experiment changed or
    /// left Git) and the targets were restored at once.
    Aborted,
    /// It did not start: the steady state did not hold before it, or not
    /// enough targets were free.
    Skipped,
    /// The probes did not pass again within `recovery` of the restore.
    RestoreFailed,
}

impl Ending {
    /// The word in records and plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Aborted => "aborted",
            Self::Skipped => "skipped",
            Self::RestoreFailed => "restore-failed",
        }
    }
}

/// The end of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// The run's number, from 1.
    pub number: u32,
    /// How it ended.
    pub outcome: Ending,
    /// Why, in one sentence: the probe and its answer for an abort.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The run in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Its number, from 1.
    pub number: u32,
    /// Where it is.
    pub phase: Phase,
    /// The fault, as the spec said when the run started: what the restore
    /// undoes even if the spec has changed since.
    pub fault: Fault,
    /// The network of a `disconnect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The containers it acts on.
    pub targets: Vec<Hit>,
    /// When the fault was put in.
    pub started: DateTime<Utc>,
    /// When the targets are restored at the latest.
    pub ends: DateTime<Utc>,
    /// While recovering: when the probes must pass again at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_by: Option<DateTime<Utc>>,
    /// While recovering: how the run ends once the probes pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Ended>,
}

/// An experiment's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// When it was first applied (the start of a schedule without a time).
    pub armed: DateTime<Utc>,
    /// Runs so far, skipped ones included.
    pub runs: u32,
    /// When the last run began (or was skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_start: Option<DateTime<Utc>>,
    /// The run in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Run>,
    /// How the last finished run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Ended>,
}

impl Status {
    /// The status of an experiment applied at `now`: no run yet.
    pub fn armed_at(now: DateTime<Utc>) -> Self {
        Self {
            armed: now,
            runs: 0,
            last_start: None,
            current: None,
            last: None,
        }
    }
}

/// The key of the status in an experiment's observed state.
pub const STATUS: &str = "status";

/// An experiment as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The spec it was last applied with.
    pub spec: Experiment,
    /// Its status.
    pub status: Status,
}

impl Record {
    /// The observed state: the spec's fields and `status`.
    pub fn to_state(&self) -> Value {
        let mut state = cairn_sdk::spec::to_json(&self.spec);
        state[STATUS] = cairn_sdk::spec::to_json(&self.status);
        state
    }

    /// Reads an observed state back.
    pub fn from_state(state: &Value) -> Result<Self, Error> {
        let mut fields: Map<String, Value> = state.as_object().cloned().unwrap_or_default();
        let status = fields.remove(STATUS).unwrap_or(Value::Null);
        let bad = |what: &str, error: serde_json::Error| {
            Error::internal(format!(
                "the experiment's recorded {what} is not in this provider's form: {error}"
            ))
        };
        Ok(Self {
            spec: serde_json::from_value(Value::Object(fields)).map_err(|e| bad("spec", e))?,
            status: serde_json::from_value(status).map_err(|e| bad("status", e))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    #[test]
    fn a_record_is_the_spec_and_its_status_and_reads_back() {
        let spec: Experiment = serde_json::from_value(
            crate::spec::validate(&json!({
                "name": "p", "target": {"app": "web"}, "action": "pause", "duration": "5s"
            }))
            .canonical
            .expect("valid"),
        )
        .expect("canonical");
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00.250Z")
            .expect("a time")
            .with_timezone(&Utc);
        let mut status = Status::armed_at(now);
        status.current = Some(Run {
            number: 1,
            phase: Phase::Running,
            fault: crate::spec::Fault::Pause,
            network: None,
            targets: vec![Hit {
                id: "abc".into(),
                name: "web-1".into(),
                app: Some("web".into()),
            }],
            started: now,
            ends: now + chrono::Duration::seconds(5),
            recover_by: None,
            outcome: None,
        });
        let record = Record { spec, status };
        let state = record.to_state();
        assert_eq!(state["name"], "p");
        assert_eq!(
            state["status"]["current"]["ends"],
            "2026-12-03T10:00:05.250Z"
        );
        assert_eq!(Record::from_state(&state).expect("reads back"), record);
    }
}
