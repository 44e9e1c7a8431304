//! The experiment's lifecycle, step by step, against a world whose
//! targets and probe answers each test sets.

use super::*;
use crate::probe::Failure;
use cairn_sdk::Severity;
use cairn_sdk::serde_json::json;
use std::cell::Cell;

const RAILS: Rails = Rails {
    max_duration_ms: 60_000,
    max_share: 50,
};

struct Fake {
    targets: Targets,
    healthy: Cell<bool>,
    probed: Cell<u32>,
}

impl Fake {
    fn with(replicas: usize) -> Self {
        Self {
            targets: Targets {
                available: replicas,
                free: (0..replicas)
                    .map(|n| Hit {
                        id: format!("id{n}"),
                        name: format!("web-{n}"),
                        app: Some("web".into()),
                    })
                    .collect(),
                elsewhere: false,
            },
            healthy: Cell::new(true),
            probed: Cell::new(0),
        }
    }
}

impl World for Fake {
    fn targets(&self, _: &Experiment) -> Result<Targets, Error> {
        Ok(self.targets.clone())
    }

    fn probe(&self, _: &[Probe]) -> Result<(), Failure> {
        self.probed.set(self.probed.get() + 1);
        match self.healthy.get() {
            true => Ok(()),
            false => Err(Failure {
                probe: "up".into(),
                answer: "503 after 3ms: \"down\", not 200".into(),
            }),
        }
    }
}

fn experiment(more: Value) -> Experiment {
    let mut spec = json!({
        "name": "web-pause", "target": {"app": "web"}, "action": "pause",
        "duration": "5s", "recovery": "10s",
        "probes": [{"name": "up", "url": "http://127.0.0.1:8081/"}]
    });
    for (key, value) in more.as_object().expect("a table") {
        spec[key] = value.clone();
    }
    let validation = crate::spec::validate(&spec);
    assert!(
        validation.diagnostics.is_empty(),
        "{:?}",
        validation.diagnostics
    );
    serde_json::from_value(validation.canonical.expect("valid")).expect("canonical")
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
        .expect("a time")
        .with_timezone(&Utc)
        + chrono::Duration::seconds(seconds)
}

/// Applies a decision as `apply` would (without the probe after a
/// restore): the record the next step starts from.
fn applied(spec: &Experiment, decision: &Decision) -> Record {
    Record {
        spec: spec.clone(),
        status: decision.next.clone().expect("a status"),
    }
}

use cairn_sdk::serde_json::Value;

#[test]
fn a_run_starts_when_applied_lasts_its_duration_and_ends_once_the_probes_pass() {
    let spec = experiment(json!({}));
    let world = Fake::with(2);
    let armed = decide(Some(&spec), None, at(0), false, &world, RAILS).expect("decides");
    assert_eq!(armed.action, Action::Create);
    assert_eq!(
        armed.summary,
        "arm the experiment; start run 1: pause 1 of 2 web for 5s (web-0)"
    );
    assert!(armed.diagnostics.is_empty(), "{:?}", armed.diagnostics);
    assert_eq!(
        armed.recheck_after_ms,
        Some(1_000),
        "the probes are checked every second"
    );
    let running = applied(&spec, &armed);
    let run = running.status.current.as_ref().expect("a run");
    assert_eq!((run.phase, run.ends), (Phase::Running, at(5)));
    // The app is held through the run and its recovery time.
    assert_eq!(
        held_apps(&spec, &running.status),
        [("web".to_string(), at(15))]
    );

    let midway = decide(Some(&spec), Some(&running), at(3), false, &world, RAILS).expect("decides");
    assert_eq!(midway.action, Action::NoOp);
    assert_eq!(midway.summary, "run 1 in progress: 2s left");
    let near_the_end = decide(
        Some(&spec),
        Some(&running),
        at(4) + chrono::Duration::milliseconds(700),
        false,
        &world,
        RAILS,
    )
    .expect("decides");
    assert_eq!(
        near_the_end.recheck_after_ms,
        Some(300),
        "the next look is the run's end, to the millisecond"
    );
    assert_eq!(
        world.probed.get(),
        3,
        "before the run, and at each look during it"
    );

    let over = decide(Some(&spec), Some(&running), at(5), false, &world, RAILS).expect("decides");
    assert_eq!(over.action, Action::Update);
    assert_eq!(over.summary, "restore web-0: run 1 lasted its 5s");
    let recovering = applied(&spec, &over);
    let run = recovering.status.current.as_ref().expect("recovering");
    assert_eq!(run.phase, Phase::Recovering);
    assert_eq!(run.recover_by, Some(at(15)));

    let recovered =
        decide(Some(&spec), Some(&recovering), at(6), false, &world, RAILS).expect("decides");
    assert_eq!(recovered.summary, "run 1 completed: the probes pass again");
    let done = applied(&spec, &recovered);
    assert_eq!(done.status.current, None);
    assert!(
        held_apps(&spec, &done.status).is_empty(),
        "nothing held once over"
    );
    let last = done.status.last.as_ref().expect("an ending");
    assert_eq!((last.number, last.outcome), (1, Ending::Completed));

    let after = decide(Some(&spec), Some(&done), at(60), false, &world, RAILS).expect("decides");
    assert_eq!(after.action, Action::NoOp);
    assert_eq!(after.summary, "no more runs (1 so far)");
    assert_eq!(after.recheck_after_ms, None, "nothing is due any more");
}

#[test]
fn a_failing_probe_aborts_the_run_at_once_and_a_recovery_that_never_comes_is_a_failed_restore() {
    let spec = experiment(json!({}));
    let world = Fake::with(2);
    let running = applied(
        &spec,
        &decide(Some(&spec), None, at(0), false, &world, RAILS).expect("decides"),
    );
    world.healthy.set(false);
    let abort = decide(Some(&spec), Some(&running), at(2), false, &world, RAILS).expect("decides");
    assert_eq!(abort.action, Action::Update);
    assert_eq!(
        abort.summary,
        "abort run 1 (probe `up`: 503 after 3ms: \"down\", not 200): restore web-0 now"
    );
    let notice = abort.notice.clone().expect("an abort is told");
    assert_eq!(notice.kind, NoticeKind::ChaosAborted);
    assert_eq!(
        notice.message,
        "run 1 aborted: probe `up`: 503 after 3ms: \"down\", not 200"
    );
    let recovering = applied(&spec, &abort);
    let outcome = recovering
        .status
        .current
        .as_ref()
        .and_then(|r| r.outcome.clone());
    assert_eq!(outcome.map(|o| o.outcome), Some(Ending::Aborted));

    let waiting =
        decide(Some(&spec), Some(&recovering), at(5), false, &world, RAILS).expect("decides");
    assert_eq!(waiting.action, Action::NoOp);
    assert_eq!(waiting.notice, None, "told once");
    let failed =
        decide(Some(&spec), Some(&recovering), at(12), false, &world, RAILS).expect("decides");
    assert_eq!(
        failed.notice.as_ref().map(|n| n.kind),
        Some(NoticeKind::ChaosRestoreFailed)
    );
    let last = applied(&spec, &failed).status.last.expect("an ending");
    assert_eq!(last.outcome, Ending::RestoreFailed);
    assert!(
        last.message
            .starts_with("the probes still fail 10s after the restore"),
        "{}",
        last.message
    );
}

#[test]
fn a_run_does_not_start_on_a_system_already_unhealthy_nor_without_free_targets() {
    let spec = experiment(json!({}));
    let world = Fake::with(2);
    world.healthy.set(false);
    let skipped = decide(Some(&spec), None, at(0), false, &world, RAILS).expect("decides");
    let status = applied(&spec, &skipped).status;
    assert_eq!(status.current, None, "no fault is put in");
    assert_eq!(status.last.map(|l| l.outcome), Some(Ending::Skipped));
    assert!(
        skipped
            .summary
            .contains("the steady state does not hold before the run")
    );

    let mut busy = Fake::with(2);
    busy.targets.free.clear();
    let skipped = decide(Some(&spec), None, at(0), false, &busy, RAILS).expect("decides");
    assert!(
        skipped
            .summary
            .ends_with("skip run 1: 0 of 2 web free to act on, and the run takes 1"),
        "{}",
        skipped.summary
    );
    assert_eq!(busy.probed.get(), 0, "no probe when nothing can start");
}

#[test]
fn a_schedule_runs_in_its_slots_never_overlapping_up_to_its_cap() {
    let spec = experiment(json!({"schedule": {"cron": "*/10 * * * * *", "max_runs": 2}}));
    let world = Fake::with(2);
    let armed = decide(Some(&spec), None, at(3), false, &world, RAILS).expect("decides");
    assert_eq!(
        armed.summary,
        "arm the experiment; start in 7s: pause 1 of 2 web for 5s (web-0)"
    );
    assert_eq!(armed.recheck_after_ms, Some(7_000));
    let idle = applied(&spec, &armed);
    let early = decide(Some(&spec), Some(&idle), at(9), false, &world, RAILS).expect("decides");
    assert_eq!(early.action, Action::NoOp, "not before its slot");
    let first = applied(
        &spec,
        &decide(Some(&spec), Some(&idle), at(10), false, &world, RAILS).expect("decides"),
    );
    assert_eq!(first.status.runs, 1);
    // The slot at 20 s comes while the first run is still recovering: it
    // waits for the run to end, and the next run takes the slot after.
    let restoring = applied(
        &spec,
        &decide(Some(&spec), Some(&first), at(15), false, &world, RAILS).expect("decides"),
    );
    world.healthy.set(false);
    let still =
        decide(Some(&spec), Some(&restoring), at(20), false, &world, RAILS).expect("decides");
    assert_eq!(still.action, Action::NoOp, "no second run over the first");
    world.healthy.set(true);
    let ended = applied(
        &spec,
        &decide(Some(&spec), Some(&restoring), at(21), false, &world, RAILS).expect("decides"),
    );
    let second = decide(Some(&spec), Some(&ended), at(21), false, &world, RAILS).expect("decides");
    assert_eq!(
        second.action,
        Action::Update,
        "the slot at 20 s, taken late"
    );
    let second = applied(&spec, &second);
    assert_eq!(second.status.runs, 2);
    let mut done = second.clone();
    done.status.current = None;
    let capped = decide(Some(&spec), Some(&done), at(40), false, &world, RAILS).expect("decides");
    assert_eq!(capped.summary, "no more runs (2 so far)");
}

#[test]
fn leaving_git_restores_a_run_in_progress_and_a_changed_spec_aborts_it() {
    let spec = experiment(json!({}));
    let world = Fake::with(2);
    let running = applied(
        &spec,
        &decide(Some(&spec), None, at(0), false, &world, RAILS).expect("decides"),
    );
    let gone = decide(None, Some(&running), at(2), false, &world, RAILS).expect("decides");
    assert_eq!(gone.action, Action::Delete);
    assert_eq!(
        gone.notice.map(|n| n.kind),
        Some(NoticeKind::ChaosAborted),
        "a run cut short by leaving Git is an abort"
    );
    assert_eq!(
        gone.summary,
        "restore web-0 now and remove the experiment (run 1 cut short)"
    );
    let longer = experiment(json!({"duration": "20s"}));
    let changed =
        decide(Some(&longer), Some(&running), at(2), false, &world, RAILS).expect("decides");
    assert_eq!(changed.action, Action::Update);
    assert!(
        changed
            .summary
            .starts_with("abort run 1 (the experiment changed in Git)"),
        "{}",
        changed.summary
    );
}

#[test]
fn the_operators_rails_and_other_owners_containers_stop_the_plan() {
    let world = Fake::with(1);
    let too_long = experiment(json!({"duration": "2m"}));
    let decision = decide(Some(&too_long), None, at(0), false, &world, RAILS).expect("decides");
    let errors: Vec<(&str, Severity, &str)> = decision
        .diagnostics
        .iter()
        .map(|d| (d.path.as_str(), d.severity, d.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "duration",
                Severity::Error,
                "a run of 2m is longer than the operator's max_duration of 1m"
            ),
            (
                "percent",
                Severity::Error,
                "a run takes 1 of 1 web (100%), more than the operator's max_share of 50%"
            ),
        ]
    );
    let mut elsewhere = Fake::with(0);
    elsewhere.targets.elsewhere = true;
    let spec = experiment(json!({"count": 1}));
    let decision = decide(Some(&spec), None, at(0), false, &elsewhere, RAILS).expect("decides");
    assert_eq!(decision.diagnostics.len(), 1);
    assert_eq!(decision.diagnostics[0].path, "target/app");
    assert_eq!(decision.diagnostics[0].severity, Severity::Error);
    assert!(
        decision.diagnostics[0]
            .message
            .contains("an experiment acts only on the containers of its own owner"),
        "{}",
        decision.diagnostics[0].message
    );
    // The rails are checked when the spec is new or changed, not at every
    // look while it runs.
    let fine = experiment(json!({}));
    let running = applied(
        &fine,
        &decide(Some(&fine), None, at(0), false, &Fake::with(2), RAILS).expect("decides"),
    );
    let later = decide(Some(&fine), Some(&running), at(1), false, &world, RAILS).expect("decides");
    assert!(later.diagnostics.is_empty());
}

#[test]
fn the_rails_hold_at_every_start_not_only_when_the_spec_changes() {
    let spec = experiment(json!({"schedule": {"cron": "*/10 * * * * *"}}));
    let idle = applied(
        &spec,
        &decide(Some(&spec), None, at(3), false, &Fake::with(2), RAILS).expect("decides"),
    );
    // The app shrank to one replica: a run would take all of it.
    let shrunk = decide(
        Some(&spec),
        Some(&idle),
        at(10),
        false,
        &Fake::with(1),
        RAILS,
    )
    .expect("decides");
    assert!(shrunk.diagnostics.is_empty(), "the spec did not change");
    assert_eq!(
        shrunk.summary,
        "skip run 1: a run takes 1 of 1 web (100%), more than the operator's max_share of 50%"
    );
    assert_eq!(applied(&spec, &shrunk).status.current, None);
}

#[test]
fn a_run_waits_for_targets_that_do_not_exist_yet_without_counting() {
    let spec = experiment(json!({}));
    let none = Fake::with(0);
    let waiting = decide(Some(&spec), None, at(0), false, &none, RAILS).expect("decides");
    assert_eq!(
        waiting.summary,
        "arm the experiment; run 1 waits for web: no container of it exists yet"
    );
    assert_eq!(waiting.recheck_after_ms, Some(5_000));
    assert_eq!(
        waiting
            .diagnostics
            .iter()
            .map(|d| d.severity)
            .collect::<Vec<_>>(),
        [Severity::Warning]
    );
    let armed = applied(&spec, &waiting);
    assert_eq!(armed.status.runs, 0, "no run counted");
    let started = decide(
        Some(&spec),
        Some(&armed),
        at(5),
        false,
        &Fake::with(2),
        RAILS,
    )
    .expect("decides");
    assert!(
        started.summary.starts_with("start run 1:"),
        "{}",
        started.summary
    );
}

#[test]
fn the_same_run_picks_the_same_targets_and_runs_differ() {
    let free: Vec<Hit> = (0..6)
        .map(|n| Hit {
            id: format!("id{n}"),
            name: format!("web-{n}"),
            app: None,
        })
        .collect();
    assert_eq!(pick("x", 1, &free, 2), pick("x", 1, &free, 2));
    let picks: std::collections::BTreeSet<Vec<Hit>> =
        (1..=10).map(|run| pick("x", run, &free, 2)).collect();
    assert!(picks.len() > 1, "ten runs took the same targets");
}

#[test]
fn a_halted_tenant_ends_its_run_at_once_and_starts_none() {
    let spec = experiment(json!({"schedule": {"cron": "*/10 * * * * *"}}));
    let world = Fake::with(2);
    let idle = applied(
        &spec,
        &decide(Some(&spec), None, at(3), false, &world, RAILS).expect("decides"),
    );
    let running = applied(
        &spec,
        &decide(Some(&spec), Some(&idle), at(10), false, &world, RAILS).expect("decides"),
    );
    assert!(running.status.current.is_some());
    let halted = decide(Some(&spec), Some(&running), at(11), true, &world, RAILS).expect("decides");
    assert_eq!(halted.action, Action::Update);
    assert!(
        halted
            .summary
            .starts_with("abort run 1 (the tenant stopped acting on its own"),
        "{}",
        halted.summary
    );
    let mut over = applied(&spec, &halted);
    over.status.current = None;
    let quiet = decide(Some(&spec), Some(&over), at(20), true, &world, RAILS).expect("decides");
    assert_eq!(quiet.action, Action::NoOp, "no run starts while halted");
    assert_eq!(quiet.recheck_after_ms, None);
}
