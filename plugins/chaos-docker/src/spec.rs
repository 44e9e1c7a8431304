//! The resource type `experiment`: its spec as written in Git, its
//! validation and its canonical form (durations in milliseconds, defaults
//! filled in), which is also the first half of its observed state.

use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::spec::parse_duration;
use cairn_sdk::{Diagnostic, ResourceType, Validation, spec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Label keys Cairn writes on containers; a selector may not use them: the
/// owner is never the experiment's to choose.
pub const LABEL_PREFIX: &str = "cairn.";

/// The longest probe latency limit: a probe is one request, and the whole
/// check runs inside one plugin call (30 s by default).
const MAX_PROBE_LATENCY_MS: u64 = 10_000;

/// The most tries of one probe in a check: enough to ride out a dropped
/// request, few enough that a check stays short.
pub const MAX_PROBE_TRIES: u32 = 10;

/// The most probes of one experiment: each runs at every check.
const MAX_PROBES: usize = 10;

/// The longest one check of an experiment's probes may take, every try
/// failing slowly: well within a plugin call (30 s by default), which
/// also compares the tenant's other experiments.
const MAX_CHECK_MS: u64 = 10_000;

/// The pause between two tries of a failing probe (`probe.rs`).
pub const RETRY_PAUSE_MS: u64 = 200;

/// The shortest probe interval: each check is a plugin call, and the
/// daemon never looks again sooner than its own floor.
const MIN_PROBE_INTERVAL_MS: u64 = 1_000;

/// What an experiment does to each of its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// Freezes the container's processes (`docker pause`); restored by
    /// unpausing.
    Pause,
    /// Stops the container (`docker stop`); restored by starting it.
    Stop,
    /// Sends a signal (`signal`, `SIGKILL` by default); restored by
    /// starting the container when it is no longer running.
    Kill,
    /// Restarts the container once; nothing to restore.
    Restart,
    /// Runs `workers` busy loops inside the container (it needs `sh`,
    /// `timeout` and `pkill`, as busybox has); restored by ending them.
    Stress,
    /// Disconnects the container from `network`; restored by connecting
    /// it again.
    Disconnect,
}

impl Fault {
    /// Its name in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Stop => "stop",
            Self::Kill => "kill",
            Self::Restart => "restart",
            Self::Stress => "stress",
            Self::Disconnect => "disconnect",
        }
    }

    /// The verb of a plan line: `pause`, `kill with SIGTERM`.
    pub fn verb(self, spec: &Experiment) -> String {
        match self {
            Self::Pause => "pause".into(),
            Self::Stop => "stop".into(),
            Self::Kill => format!("kill with {}", spec.signal.as_deref().unwrap_or("SIGKILL")),
            Self::Restart => "restart".into(),
            Self::Stress => format!("stress {} CPU worker(s) in", spec.workers.unwrap_or(1)),
            Self::Disconnect => format!(
                "disconnect from {}",
                spec.network.as_deref().unwrap_or_default()
            ),
        }
    }
}

/// Which containers an experiment may act on: an app's, or those bearing
/// labels; always only the containers of the provider's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// An app of the apps provider with the same owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Labels every target bears.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Target {
    /// `web`, or `containers labelled tier=front`.
    pub fn describe(&self) -> String {
        match &self.app {
            Some(app) => app.clone(),
            None => format!(
                "containers labelled {}",
                self.labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// When an experiment runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Once, at this time (RFC 3339); with neither `at` nor `cron`, once
    /// as soon as it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// At the times of a cron expression with seconds (`*/10 * * * * *`),
    /// in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The most runs; a schedule without a cap runs until it leaves Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runs: Option<u32>,
}

/// A steady-state probe: an HTTP request, through the tenant's grants,
/// whose answer says the system is healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Its name in the record and the plan.
    pub name: String,
    /// The URL; the operator must grant its host to this provider.
    pub url: String,
    /// The healthy status.
    pub status: u16,
    /// Text the healthy body contains, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The slowest healthy answer, in milliseconds.
    pub latency_ms: u64,
    /// Failed tries in a row a check tolerates before the probe fails:
    /// `0` fails at the first.
    pub tolerance: u32,
}

/// A chaos experiment in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Its name, the resource id.
    pub name: String,
    /// The containers it may act on.
    pub target: Target,
    /// What it does to them.
    pub action: Fault,
    /// The signal of `kill`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The network of `disconnect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The busy loops of `stress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// How many of the matching containers each run takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Or which share of them, in percent (at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    /// How long each run lasts, in milliseconds, before everything is
    /// restored.
    pub duration_ms: u64,
    /// When it runs.
    pub schedule: Schedule,
    /// What healthy means, checked before, during and after each run.
    pub probes: Vec<Probe>,
    /// How often the probes are checked during a run and its recovery.
    pub probe_interval_ms: u64,
    /// How long after the restore the probes may take to pass again before
    /// the run is recorded as a failed restore.
    pub recovery_ms: u64,
}

impl Experiment {
    /// How many of `available` containers a run takes.
    pub fn takes(&self, available: usize) -> usize {
        match (self.count, self.percent) {
            (Some(count), _) => count as usize,
            (None, Some(percent)) => (available * percent as usize / 100).max(1),
            (None, None) => 1,
        }
    }

    /// The plan's words for one run: `pause 1 of 2 web for 30s`.
    pub fn describe_run(&self, taken: usize, available: usize) -> String {
        format!(
            "{} {taken} of {available} {} for {}",
            self.action.verb(self),
            self.target.describe(),
            human_ms(self.duration_ms)
        )
    }
}

/// `30s`, `1m30s`, `250ms`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let seconds = ms.div_ceil(1_000);
    match (seconds / 3_600, seconds / 60 % 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// The spec as written: durations as text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    name: String,
    target: Target,
    action: Fault,
    #[serde(default)]
    signal: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    workers: Option<u32>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    percent: Option<u32>,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    schedule: Schedule,
    #[serde(default)]
    probes: Vec<WrittenProbe>,
    #[serde(default)]
    probe_interval: Option<String>,
    #[serde(default)]
    probe_interval_ms: Option<u64>,
    #[serde(default)]
    recovery: Option<String>,
    #[serde(default)]
    recovery_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenProbe {
    name: String,
    url: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    latency: Option<String>,
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    tolerance: Option<u32>,
}

/// The resource types: `experiment`.
pub fn resource_types() -> Vec<ResourceType> {
    let duration = json!({"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"});
    // The canonical form's milliseconds, which a spec may also write.
    let millis = json!({"type": "integer", "minimum": 0});
    vec![
        ResourceType::new(
            "experiment",
            "a chaos experiment on containers: a fault for a while, on a schedule, stopped when the steady state breaks",
            &["name"],
        )
        .schema(json!({
            "type": "object",
            "required": ["name", "target", "action"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,62}$"},
                "target": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "app": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
                "action": {"enum": ["pause", "stop", "kill", "restart", "stress", "disconnect"]},
                "signal": {"type": "string"},
                "network": {"type": "string"},
                "workers": {"type": "integer", "minimum": 1, "maximum": 16},
                "count": {"type": "integer", "minimum": 1},
                "percent": {"type": "integer", "minimum": 1, "maximum": 100},
                "duration": duration,
                "duration_ms": millis,
                "schedule": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "cron": {"type": "string"},
                        "max_runs": {"type": "integer", "minimum": 1}
                    }
                },
                "probes": {"type": "array", "maxItems": MAX_PROBES, "items": {
                    "type": "object", "required": ["name", "url"], "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string"},
                        "url": {"type": "string"},
                        "status": {"type": "integer", "default": 200},
                        "body": {"type": "string"},
                        "latency": duration,
                        "latency_ms": millis,
                        "tolerance": {"type": "integer", "minimum": 0, "maximum": MAX_PROBE_TRIES - 1}
                    }
                }},
                "probe_interval": duration,
                "probe_interval_ms": millis,
                "recovery": duration,
                "recovery_ms": millis
            }
        })),
    ]
}

/// Checks an experiment and puts it in canonical form.
pub fn validate(value: &Value) -> Validation {
    let written: Written = match spec::parse(value) {
        Ok(written) => written,
        Err(diagnostic) => return Validation::invalid(vec![diagnostic]),
    };
    let mut errors = Vec::new();
    // A duration as written (`"30s"`), or in the canonical form's
    // milliseconds, which validate to themselves.
    let mut duration =
        |path: &str, text: Option<&str>, ms: Option<u64>, default: u64| match (text, ms) {
            (Some(text), _) => parse_duration(text).unwrap_or_else(|| {
                errors.push(
                    Diagnostic::error(path, format!("`{text}` is not a duration"))
                        .with_help("write \"500ms\", \"30s\", \"5m\" or \"1h\""),
                );
                0
            }),
            (None, Some(ms)) => ms,
            (None, None) => default,
        };
    let duration_ms = duration(
        "duration",
        written.duration.as_deref(),
        written.duration_ms,
        0,
    );
    let probe_interval_ms = duration(
        "probe_interval",
        written.probe_interval.as_deref(),
        written.probe_interval_ms,
        1_000,
    );
    let recovery_ms = duration(
        "recovery",
        written.recovery.as_deref(),
        written.recovery_ms,
        30_000,
    );
    let probes: Vec<Probe> = written
        .probes
        .into_iter()
        .enumerate()
        .map(|(index, probe)| Probe {
            latency_ms: duration(
                &format!("probes/{index}/latency"),
                probe.latency.as_deref(),
                probe.latency_ms,
                1_000,
            ),
            name: probe.name,
            url: probe.url,
            status: probe.status.unwrap_or(200),
            body: probe.body,
            tolerance: probe.tolerance.unwrap_or(0),
        })
        .collect();
    let experiment = Experiment {
        name: written.name,
        target: written.target,
        action: written.action,
        signal: written.signal,
        network: written.network,
        workers: written.workers,
        count: written.count,
        percent: written.percent,
        duration_ms,
        schedule: written.schedule,
        probes,
        probe_interval_ms,
        recovery_ms,
    };
    // A field already refused (a duration that does not parse) is not
    // refused twice.
    let more: Vec<Diagnostic> = problems(&experiment)
        .into_iter()
        .filter(|problem| !errors.iter().any(|e| e.path == problem.path))
        .collect();
    errors.extend(more);
    if errors.is_empty() {
        Validation::valid(spec::to_json(&experiment))
    } else {
        Validation::invalid(errors)
    }
}

/// What is wrong with an experiment in canonical form, found without I/O.
fn problems(experiment: &Experiment) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut error = |path: &str, message: String, help: &str| {
        errors.push(Diagnostic::error(path, message).with_help(help));
    };
    let name = &experiment.name;
    if name.is_empty()
        || name.len() > 63
        || !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
    {
        error(
            "name",
            format!("`{name}` is not an experiment name"),
            "use lower-case letters, digits, `_`, `.` and `-`, at most 63, starting with a letter or digit",
        );
    }
    let target = &experiment.target;
    match (&target.app, target.labels.is_empty()) {
        (None, true) => error(
            "target",
            "the experiment has no target".into(),
            "name an app (`target = { app = \"web\" }`) or labels (`target = { labels = { tier = \"front\" } }`)",
        ),
        (Some(_), false) => error(
            "target",
            "a target is an app or labels, not both".into(),
            "keep `app` or `labels`",
        ),
        _ => {}
    }
    for key in target.labels.keys() {
        if key.starts_with(LABEL_PREFIX) {
            error(
                &format!("target/labels/{key}"),
                format!(
                    "labels starting with `{LABEL_PREFIX}` are Cairn's own: an experiment acts only on its owner's containers, whatever it selects"
                ),
                "select by the app or by the containers' own labels",
            );
        }
    }
    match (experiment.count, experiment.percent) {
        (Some(_), Some(_)) => error(
            "count",
            "`count` and `percent` both say how many targets a run takes".into(),
            "keep one",
        ),
        (Some(0), _) => error("count", "`count` is 0".into(), "take at least 1"),
        (_, Some(p)) if p == 0 || p > 100 => error(
            "percent",
            format!("`percent` is {p}"),
            "write a share from 1 to 100",
        ),
        _ => {}
    }
    let only = |field: &str, fault: Fault, set: bool, errors: &mut Vec<Diagnostic>| {
        if set && experiment.action != fault {
            errors.push(
                Diagnostic::error(field, format!("`{field}` is only for `{}`", fault.as_str()))
                    .with_help(format!("remove `{field}`")),
            );
        }
    };
    only(
        "signal",
        Fault::Kill,
        experiment.signal.is_some(),
        &mut errors,
    );
    only(
        "network",
        Fault::Disconnect,
        experiment.network.is_some(),
        &mut errors,
    );
    only(
        "workers",
        Fault::Stress,
        experiment.workers.is_some(),
        &mut errors,
    );
    let mut error = |path: &str, message: String, help: &str| {
        errors.push(Diagnostic::error(path, message).with_help(help));
    };
    if experiment.action == Fault::Disconnect && experiment.network.is_none() {
        error(
            "network",
            "`disconnect` needs the network to disconnect the targets from".into(),
            "add `network = \"NAME\"`",
        );
    }
    if let Some(signal) = &experiment.signal
        && !(signal.starts_with("SIG")
            && signal.len() > 3
            && signal[3..]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        error(
            "signal",
            format!("`{signal}` is not a signal name"),
            "write it as SIGKILL, SIGTERM, SIGINT",
        );
    }
    if experiment.workers.is_some_and(|w| w == 0 || w > 16) {
        error(
            "workers",
            "`workers` is out of 1–16".into(),
            "write 1 to 16",
        );
    }
    if experiment.duration_ms == 0 {
        error(
            "duration",
            "an experiment needs a duration, more than zero".into(),
            "write how long each run lasts, such as \"30s\"",
        );
    }
    if experiment.probe_interval_ms < MIN_PROBE_INTERVAL_MS {
        error(
            "probe_interval",
            "probes are checked at most once a second".into(),
            "write \"1s\" or more",
        );
    }
    let schedule = &experiment.schedule;
    if schedule.at.is_some() && schedule.cron.is_some() {
        error(
            "schedule",
            "a schedule is `at` a time or a `cron` expression, not both".into(),
            "keep one",
        );
    }
    if let Some(at) = &schedule.at
        && chrono::DateTime::parse_from_rfc3339(at).is_err()
    {
        error(
            "schedule/at",
            format!("`{at}` is not an RFC 3339 time"),
            "write it as 2026-12-03T15:00:00Z",
        );
    }
    if let Some(cron) = &schedule.cron
        && let Err(problem) = crate::schedule::parse_cron(cron)
    {
        error(
            "schedule/cron",
            format!("`{cron}` is not a cron expression: {problem}"),
            "write six fields with seconds first, such as \"0 */5 * * * *\" (every five minutes)",
        );
    }
    if schedule.max_runs == Some(0) {
        error(
            "schedule/max_runs",
            "`max_runs` is 0".into(),
            "write 1 or more",
        );
    }
    let slowest: u64 = experiment
        .probes
        .iter()
        .map(|probe| u64::from(probe.tolerance + 1) * (probe.latency_ms + RETRY_PAUSE_MS))
        .sum();
    if slowest > MAX_CHECK_MS {
        error(
            "probes",
            format!(
                "a check of these probes may take {} (every try failing slowly), more than {}",
                human_ms(slowest),
                human_ms(MAX_CHECK_MS)
            ),
            "lower the probes' latency limits or tolerances, or use fewer probes",
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, probe) in experiment.probes.iter().enumerate() {
        if !names.insert(probe.name.as_str()) {
            error(
                &format!("probes/{index}/name"),
                format!("two probes are called `{}`", probe.name),
                "give each probe its own name",
            );
        }
        if !(probe.url.starts_with("http://") || probe.url.starts_with("https://")) {
            error(
                &format!("probes/{index}/url"),
                format!("`{}` is not an http or https URL", probe.url),
                "write the URL to request, such as \"http://127.0.0.1:8081/health\"",
            );
        }
        if probe.latency_ms == 0 || probe.latency_ms > MAX_PROBE_LATENCY_MS {
            error(
                &format!("probes/{index}/latency"),
                "a probe's latency limit is out of 1ms–10s".into(),
                "write the slowest healthy answer, such as \"500ms\"",
            );
        }
        if probe.tolerance >= MAX_PROBE_TRIES {
            error(
                &format!("probes/{index}/tolerance"),
                format!("a check tries a probe at most {MAX_PROBE_TRIES} times"),
                "tolerate fewer failures in a row",
            );
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(value: Value) -> Vec<(String, String)> {
        validate(&value)
            .diagnostics
            .into_iter()
            .map(|d| (d.path, d.message))
            .collect()
    }

    #[test]
    fn a_written_experiment_is_canonical_with_defaults_filled_in() {
        let validation = validate(&json!({
            "name": "web-pause", "target": {"app": "web"}, "action": "pause",
            "duration": "30s",
            "probes": [{"name": "up", "url": "http://127.0.0.1:8081/"}]
        }));
        assert!(
            validation.diagnostics.is_empty(),
            "{:?}",
            validation.diagnostics
        );
        let canonical: Experiment =
            serde_json::from_value(validation.canonical.expect("valid")).expect("canonical");
        assert_eq!(canonical.duration_ms, 30_000);
        assert_eq!(canonical.recovery_ms, 30_000);
        assert_eq!(canonical.probe_interval_ms, 1_000);
        assert_eq!(canonical.probes[0].status, 200);
        assert_eq!(canonical.probes[0].latency_ms, 1_000);
        assert_eq!(canonical.describe_run(1, 2), "pause 1 of 2 web for 30s");
        // The canonical form validates to itself, as the host requires.
        let again = validate(&spec::to_json(&canonical));
        assert!(again.diagnostics.is_empty(), "{:?}", again.diagnostics);
    }

    #[test]
    fn mistakes_are_named_at_their_fields() {
        assert_eq!(
            errors(json!({
                "name": "Bad Name", "target": {"labels": {"cairn.owner": "other"}},
                "action": "pause", "signal": "SIGTERM", "count": 1, "percent": 50,
                "duration": "soon", "schedule": {"cron": "every minute", "at": "x"},
                "probes": [{"name": "a", "url": "ftp://x", "tolerance": 10},
                           {"name": "a", "url": "http://x", "latency": "1m"}]
            }))
            .into_iter()
            .map(|(path, _)| path)
            .collect::<Vec<_>>(),
            [
                "duration",
                "name",
                "target/labels/cairn.owner",
                "count",
                "signal",
                "schedule",
                "schedule/at",
                "schedule/cron",
                "probes",
                "probes/0/url",
                "probes/0/tolerance",
                "probes/1/name",
                "probes/1/latency",
            ]
        );
        assert_eq!(
            errors(json!({"name": "d", "target": {}, "action": "disconnect", "duration": "1s"})),
            [
                (
                    "target".to_string(),
                    "the experiment has no target".to_string()
                ),
                (
                    "network".to_string(),
                    "`disconnect` needs the network to disconnect the targets from".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_run_takes_a_count_or_a_share_and_never_none() {
        let mut experiment: Experiment = serde_json::from_value(
            validate(
                &json!({"name": "x", "target": {"app": "web"}, "action": "kill", "duration": "5s"}),
            )
            .canonical
            .expect("valid"),
        )
        .expect("canonical");
        assert_eq!(experiment.takes(4), 1);
        experiment.percent = Some(50);
        assert_eq!(experiment.takes(4), 2);
        assert_eq!(experiment.takes(1), 1);
        experiment.count = Some(3);
        assert_eq!(experiment.takes(4), 3);
        assert_eq!(
            experiment.describe_run(3, 4),
            "kill with SIGKILL 3 of 4 web for 5s"
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human_ms(250), "250ms");
        assert_eq!(human_ms(30_000), "30s");
        assert_eq!(human_ms(90_000), "1m30s");
        assert_eq!(human_ms(240_000), "4m");
        assert_eq!(human_ms(3_900_000), "1h5m");
    }
}
