//! What an experiment needs now: a pure function of its spec, its record,
//! the clock and what the world answers (its targets, its probes). The
//! answer is the status the experiment moves to — `apply` makes the
//! containers follow (`fault.rs`) and writes it — the plan's words for it,
//! and when to look again.
//!
//! A run goes idle → running (the fault is put in) → recovering (the
//! targets are restored; the probes must pass again) → idle, its ending
//! recorded. A run starts only when it is due, enough targets are free
//! and the probes pass; a probe failing while it runs aborts it; a run
//! never outlives its duration.

use crate::probe::Failure;
use crate::record::{Ended, Ending, Hit, Phase, Record, Run, Status};
use crate::schedule::next_due;
use crate::spec::{Experiment, Probe, human_ms};
use cairn_sdk::{Action, Diagnostic, Error, Notice, NoticeKind};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The operator's limits on experiments (the provider's config).
#[derive(Debug, Clone, Copy)]
pub struct Rails {
    /// The longest run.
    pub max_duration_ms: u64,
    /// The largest share of an app's containers one run may take, in
    /// percent.
    pub max_share: u32,
}

/// The containers an experiment could act on now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Every container of the owner its target selects.
    pub available: usize,
    /// Those running and under no other experiment's run.
    pub free: Vec<Hit>,
    /// Whether containers matching the target exist under another owner
    /// only: the experiment names what is not its owner's.
    pub elsewhere: bool,
}

/// What `decide` asks of the real world.
pub trait World {
    /// The containers `spec` could act on.
    fn targets(&self, spec: &Experiment) -> Result<Targets, Error>;
    /// Checks the probes: the first that fails beyond its tolerance.
    fn probe(&self, probes: &[Probe]) -> Result<(), Failure>;
}

/// The change an experiment needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What the change does.
    pub action: Action,
    /// One line for the plan.
    pub summary: String,
    /// The status after the change; `None` when the experiment goes.
    pub next: Option<Status>,
    /// Milliseconds until the experiment needs looking at again.
    pub recheck_after_ms: Option<u64>,
    /// What the operator must hear of once the change is applied: a run
    /// aborted, a restore the probes never confirmed.
    pub notice: Option<Notice>,
    /// Problems the plan must stop at (or show).
    pub diagnostics: Vec<Diagnostic>,
}

/// How often an experiment whose targets do not exist yet looks again (an
/// app committed with it, created by the same apply): no run is counted
/// meanwhile.
const WAIT_FOR_TARGETS_MS: u64 = 5_000;

/// How early a look may come and still count as on time: the daemon
/// wakes a few milliseconds either side of what was asked, and a look
/// that found a run not quite over could come back only after the
/// daemon's floor (200 ms).
const ON_TIME_MS: i64 = 20;

/// Why a run ends early when the tenant halts.
const HALTED: &str =
    "the tenant stopped acting on its own: suspended, its daemon stopping, or its run failing";

/// Decides what the experiment `desired` (absent: it left Git) with the
/// record `observed` (absent: never applied) needs at `now`. `halt`: the
/// tenant stops acting on its own; a run in progress ends and none
/// starts.
pub fn decide(
    desired: Option<&Experiment>,
    observed: Option<&Record>,
    now: DateTime<Utc>,
    halt: bool,
    world: &impl World,
    rails: Rails,
) -> Result<Decision, Error> {
    let Some(spec) = desired else {
        return Ok(match observed {
            None => unchanged("no changes".into(), None),
            Some(record) => Decision {
                action: Action::Delete,
                summary: removal(&record.status),
                next: None,
                recheck_after_ms: None,
                notice: record
                    .status
                    .current
                    .as_ref()
                    .filter(|run| run.phase == Phase::Running)
                    .map(|run| Notice {
                        kind: NoticeKind::ChaosAborted,
                        message: format!(
                            "run {} aborted: the experiment left Git; its targets are restored",
                            run.number
                        ),
                    }),
                diagnostics: Vec::new(),
            },
        });
    };
    let changed = observed.is_none_or(|record| record.spec != *spec);
    let mut diagnostics = Vec::new();
    let targets = world.targets(spec)?;
    if changed {
        diagnostics = check_rails(spec, &targets, rails);
    }
    let status = observed.map_or_else(|| Status::armed_at(now), |r| r.status.clone());
    let (next, words) = step(spec, &status, now, &targets, world, (changed, halt), rails);
    let recheck_after_ms = match halt && next.current.is_none() {
        true => None,
        false => recheck(spec, &next, now, targets.available == 0),
    };
    let notice = notice_of(&status, &next);
    let action = match observed {
        None => Action::Create,
        Some(_) if next != status || changed => Action::Update,
        Some(_) => Action::NoOp,
    };
    let summary = match (action, words) {
        (Action::Create, words) => format!("arm the experiment; {words}"),
        (Action::Update, words) if changed && next == status => {
            format!("record the experiment's new spec; {words}")
        }
        (_, words) => words,
    };
    Ok(Decision {
        action,
        summary,
        next: Some(next),
        recheck_after_ms,
        notice,
        diagnostics,
    })
}

fn unchanged(summary: String, recheck_after_ms: Option<u64>) -> Decision {
    Decision {
        action: Action::NoOp,
        summary,
        next: None,
        recheck_after_ms,
        notice: None,
        diagnostics: Vec::new(),
    }
}

/// The notice of a step: a run that goes from running to an abort, or a
/// recovery that ends in a failed restore.
fn notice_of(before: &Status, after: &Status) -> Option<Notice> {
    let was_running = before
        .current
        .as_ref()
        .is_some_and(|run| run.phase == Phase::Running);
    let aborted = after
        .current
        .as_ref()
        .and_then(|run| run.outcome.as_ref())
        .filter(|ended| was_running && ended.outcome == Ending::Aborted);
    if let Some(ended) = aborted {
        return Some(Notice {
            kind: NoticeKind::ChaosAborted,
            message: format!("run {} aborted: {}", ended.number, ended.message),
        });
    }
    // Told once: when this step is the one that ends the run so.
    let failed = after.last.as_ref().filter(|ended| {
        ended.outcome == Ending::RestoreFailed
            && before
                .current
                .as_ref()
                .is_some_and(|run| run.number == ended.number)
    });
    failed.map(|ended| Notice {
        kind: NoticeKind::ChaosRestoreFailed,
        message: format!("run {}: {}", ended.number, ended.message),
    })
}

/// The apps a run in `status` keeps away from their desired state, and
/// until when at the latest: through its end and its recovery.
pub fn held_apps(spec: &Experiment, status: &Status) -> Vec<(String, DateTime<Utc>)> {
    let Some(run) = &status.current else {
        return Vec::new();
    };
    let until = run
        .recover_by
        .unwrap_or(run.ends + millis(spec.recovery_ms));
    let mut apps: Vec<String> = run.targets.iter().filter_map(|t| t.app.clone()).collect();
    apps.sort();
    apps.dedup();
    apps.into_iter().map(|app| (app, until)).collect()
}

/// The plan's words for an experiment leaving Git.
fn removal(status: &Status) -> String {
    match &status.current {
        Some(run) if run.phase == Phase::Running => format!(
            "restore {} now and remove the experiment (run {} cut short)",
            names(&run.targets),
            run.number
        ),
        Some(run) => format!(
            "remove the experiment (run {} restored, its recovery not confirmed)",
            run.number
        ),
        None => format!("remove the experiment ({} run(s))", status.runs),
    }
}

/// The operator's limits and the target's existence, checked whenever the
/// spec is new or changed.
fn check_rails(spec: &Experiment, targets: &Targets, rails: Rails) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    if spec.duration_ms > rails.max_duration_ms {
        problems.push(
            Diagnostic::error(
                "duration",
                format!(
                    "a run of {} is longer than the operator's max_duration of {}",
                    human_ms(spec.duration_ms),
                    human_ms(rails.max_duration_ms)
                ),
            )
            .with_help("shorten the run, or ask the operator to raise max_duration"),
        );
    }
    let target_field = match spec.target.app {
        Some(_) => "target/app",
        None => "target/labels",
    };
    if targets.available == 0 && targets.elsewhere {
        problems.push(
            Diagnostic::error(
                target_field,
                format!(
                    "{} are not this tenant's: an experiment acts only on the containers of its own owner",
                    spec.target.describe()
                ),
            )
            .with_help("name an app of this tenant"),
        );
    } else if targets.available == 0 {
        problems.push(Diagnostic::warning(
            target_field,
            format!(
                "no container of {} exists yet: runs are skipped until one does",
                spec.target.describe()
            ),
        ));
    }
    let taken = spec.takes(targets.available);
    let field = match spec.count {
        Some(_) => "count",
        None => "percent",
    };
    if targets.available > 0 && taken > targets.available {
        problems.push(
            Diagnostic::error(
                field,
                format!(
                    "a run takes {taken} containers and {} has {}",
                    spec.target.describe(),
                    targets.available
                ),
            )
            .with_help("take fewer"),
        );
    } else if targets.available > 0 && taken * 100 > targets.available * rails.max_share as usize {
        problems.push(
            Diagnostic::error(
                field,
                format!(
                    "a run takes {taken} of {} {} ({}%), more than the operator's max_share of {}%",
                    targets.available,
                    spec.target.describe(),
                    taken * 100 / targets.available,
                    rails.max_share
                ),
            )
            .with_help("take fewer, or ask the operator to raise max_share"),
        );
    }
    problems
}

/// The next status and the plan's words for it.
fn step(
    spec: &Experiment,
    status: &Status,
    now: DateTime<Utc>,
    targets: &Targets,
    world: &impl World,
    (changed, halt): (bool, bool),
    rails: Rails,
) -> (Status, String) {
    let mut next = status.clone();
    match &status.current {
        Some(run) if run.phase == Phase::Running => {
            let over = now + chrono::Duration::milliseconds(ON_TIME_MS) >= run.ends;
            // A run whose time is up ends, whatever its probes would say
            // (a paused target's probe can take its whole latency limit).
            let cut = if halt {
                Some(HALTED.to_string())
            } else if changed {
                Some("the experiment changed in Git".to_string())
            } else if over {
                None
            } else {
                world.probe(&spec.probes).err().map(|f| f.to_string())
            };
            let (outcome, message, words) = match cut {
                Some(reason) => (
                    Ending::Aborted,
                    reason.clone(),
                    format!(
                        "abort run {} ({reason}): restore {} now",
                        run.number,
                        names(&run.targets)
                    ),
                ),
                None if over => (
                    Ending::Completed,
                    format!("lasted {}", human_ms(spec.duration_ms)),
                    format!(
                        "restore {}: run {} lasted its {}",
                        names(&run.targets),
                        run.number,
                        human_ms(spec.duration_ms)
                    ),
                ),
                None => {
                    let left = (run.ends - now).num_milliseconds().max(0) as u64;
                    return (
                        next,
                        format!("run {} in progress: {} left", run.number, human_ms(left)),
                    );
                }
            };
            let mut restoring = run.clone();
            restoring.phase = Phase::Recovering;
            restoring.recover_by = Some(now + millis(spec.recovery_ms));
            restoring.outcome = Some(Ended {
                number: run.number,
                outcome,
                message,
                at: now,
            });
            next.current = Some(restoring);
            (next, words)
        }
        Some(run) => {
            let ending = run.outcome.clone();
            match world.probe(&spec.probes) {
                Ok(()) => {
                    let mut ended = ending.unwrap_or(Ended {
                        number: run.number,
                        outcome: Ending::Completed,
                        message: String::new(),
                        at: now,
                    });
                    ended.at = now;
                    let words = format!(
                        "run {} {}: the probes pass again",
                        run.number,
                        ended.outcome.as_str()
                    );
                    next.current = None;
                    next.last = Some(ended);
                    (next, words)
                }
                Err(failure) if run.recover_by.is_some_and(|by| now >= by) => {
                    let message = format!(
                        "the probes still fail {} after the restore ({failure})",
                        human_ms(spec.recovery_ms)
                    );
                    let words = format!("run {}: {message}", run.number);
                    next.current = None;
                    next.last = Some(Ended {
                        number: run.number,
                        outcome: Ending::RestoreFailed,
                        message,
                        at: now,
                    });
                    (next, words)
                }
                Err(failure) => (
                    next,
                    format!(
                        "run {} restored, waiting for the probes ({failure})",
                        run.number
                    ),
                ),
            }
        }
        None if halt => (next, format!("no run starts: {HALTED}")),
        None => {
            let last_start = status.last_start;
            let Some(due) = next_due(&spec.schedule, status.armed, status.runs, last_start) else {
                return (next, format!("no more runs ({} so far)", status.runs));
            };
            let taken = spec.takes(targets.available);
            let run = spec.describe_run(taken, targets.available);
            let number = status.runs + 1;
            if due > now + chrono::Duration::milliseconds(ON_TIME_MS) {
                let wait = (due - now).num_milliseconds().max(0) as u64;
                // The containers the run would take if it started now.
                let likely = match targets.free.len() >= taken {
                    true => format!(
                        " ({})",
                        names(&pick(&spec.name, number, &targets.free, taken))
                    ),
                    false => String::new(),
                };
                return (next, format!("start in {}: {run}{likely}", human_ms(wait)));
            }
            if targets.available == 0 {
                return (
                    next,
                    format!(
                        "run {number} waits for {}: no container of it exists yet",
                        spec.target.describe()
                    ),
                );
            }
            next.runs = number;
            // The slot, not the moment a little early: the next slot is
            // counted from it, and never the same one again.
            next.last_start = Some(now.max(due));
            // The operator's limits hold at every start, not only when the
            // spec changed: the app may have shrunk, the limits tightened.
            let breach = check_rails(spec, targets, rails)
                .into_iter()
                .find(|problem| problem.severity == cairn_sdk::Severity::Error);
            let skip = if let Some(problem) = breach {
                Some(problem.message)
            } else if targets.free.len() < taken {
                Some(format!(
                    "{} of {} {} free to act on, and the run takes {taken}",
                    targets.free.len(),
                    targets.available,
                    spec.target.describe()
                ))
            } else {
                world.probe(&spec.probes).err().map(|failure| {
                    format!("the steady state does not hold before the run ({failure})")
                })
            };
            if let Some(reason) = skip {
                let words = format!("skip run {number}: {reason}");
                next.last = Some(Ended {
                    number,
                    outcome: Ending::Skipped,
                    message: reason,
                    at: now,
                });
                return (next, words);
            }
            let chosen = pick(&spec.name, number, &targets.free, taken);
            let words = format!("start run {number}: {run} ({})", names(&chosen));
            next.current = Some(Run {
                number,
                phase: Phase::Running,
                fault: spec.action,
                network: spec.network.clone(),
                targets: chosen,
                started: now,
                ends: now + millis(spec.duration_ms),
                recover_by: None,
                outcome: None,
            });
            (next, words)
        }
    }
}

/// Milliseconds until the experiment in `status` needs looking at: the
/// end of its run or its next probe check, or its next run; none once
/// done.
fn recheck(spec: &Experiment, status: &Status, now: DateTime<Utc>, waiting: bool) -> Option<u64> {
    let until = |at: DateTime<Utc>| (at - now).num_milliseconds().max(0) as u64;
    let ms = match &status.current {
        Some(run) if run.phase == Phase::Running => until(run.ends).min(spec.probe_interval_ms),
        Some(_) => spec.probe_interval_ms,
        None => until(next_due(
            &spec.schedule,
            status.armed,
            status.runs,
            status.last_start,
        )?)
        .max(WAIT_FOR_TARGETS_MS * u64::from(waiting)),
    };
    Some(ms)
}

/// `taken` of the free containers, in an order drawn from the experiment
/// and the run's number: the same for the same run (a plan shows what the
/// apply does), different from run to run.
fn pick(experiment: &str, number: u32, free: &[Hit], taken: usize) -> Vec<Hit> {
    let mut order: Vec<(Vec<u8>, &Hit)> = free
        .iter()
        .map(|hit| {
            let key = Sha256::digest(format!("{experiment}/{number}/{}", hit.name));
            (key.to_vec(), hit)
        })
        .collect();
    order.sort();
    let mut chosen: Vec<Hit> = order
        .into_iter()
        .take(taken)
        .map(|(_, hit)| hit.clone())
        .collect();
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    chosen
}

fn names(hits: &[Hit]) -> String {
    hits.iter()
        .map(|hit| hit.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn millis(ms: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
