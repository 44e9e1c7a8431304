//! The recorder and the vocabulary against a real SQLite store in a
//! temporary folder. Both engines run every query in the `store_backends`
//! integration test; these pin what one run records.

use super::*;
use crate::model::{Address, Lifecycle};
use crate::plan::PlanAction;
use crate::source::CommitInfo;
use std::time::Duration;

/// The SQLite store `state.db` in `dir`: a second call opens the same
/// store, as another process would.
pub(crate) async fn store_in(dir: &std::path::Path) -> StateStore {
    let url = format!("sqlite:{}", dir.join("state.db").display());
    StateStore::open(&url).await.unwrap()
}

/// A fresh store, and the folder that holds it.
pub(crate) async fn store() -> (StateStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (store_in(dir.path()).await, dir)
}

fn commit() -> CommitInfo {
    CommitInfo {
        id: "c0ffee".into(),
        author: "Ada <ada@example.org>".into(),
        summary: "add www".into(),
        time: 0,
    }
}

/// The ids of the tenant's commits applied with success, in the store's
/// order.
async fn applied(store: &StateStore, tenant: &str) -> Vec<String> {
    let commits = store.applied_commits(tenant).await.unwrap();
    commits.into_iter().map(|commit| commit.id).collect()
}

fn address(name: &str) -> Address {
    Address::parse(&format!("dns/record/{name}.example.org./A")).unwrap()
}

fn action(address: &Address, action: PlanAction, result: ActionResult) -> ActionRecord<'_> {
    ActionRecord {
        address,
        action,
        before_digest: None,
        after_digest: Some("after".into()),
        result,
        error: (result == ActionResult::Failed).then(|| "the server said no".into()),
        summary: Some(format!("{} it", action.as_str())),
        duration: Duration::from_millis(7),
    }
}

fn own() -> InventoryChange {
    owned_with(None)
}

/// Owned, with `diverged` when its provider did not converge.
fn owned_with(diverged: Option<Divergence>) -> InventoryChange {
    InventoryChange::Own {
        spec_digest: "spec".into(),
        state: Some(serde_json::json!({"ttl": 300})),
        lifecycle: Lifecycle::default(),
        depends_on: Vec::new(),
        pending: false,
        diverged,
        recheck: false,
    }
}

#[tokio::test]
async fn a_run_records_its_actions_their_inventory_effects_and_its_end() {
    let (store, _dir) = store().await;
    let (www, old, new) = (address("www"), address("old"), address("new"));
    let seed = store
        .begin_run("t", RunKind::Apply, &commit(), "seed")
        .await
        .unwrap();
    seed.record(&action(&old, PlanAction::Create, ActionResult::Ok), &own())
        .await
        .unwrap();
    seed.finish(RunOutcome::Succeeded, RunCounts::changes(1))
        .await
        .unwrap();

    let run = store
        .begin_run("t", RunKind::Reconcile, &commit(), "sum")
        .await
        .unwrap();
    let lifecycle = Lifecycle::default();
    run.mark_pending(&[(&www, &lifecycle, &[]), (&new, &lifecycle, &[])])
        .await
        .unwrap();
    run.journal(&[
        (&www, PlanAction::Create, Some("spec")),
        (&old, PlanAction::Delete, None),
        (&new, PlanAction::Create, Some("spec")),
    ])
    .await
    .unwrap();
    let journal = store.intents("t").await.unwrap();
    assert_eq!(journal.len(), 3);
    assert_eq!(journal[1].action, PlanAction::Delete);
    assert!(journal.iter().all(|intent| intent.run_id == run.id()));

    run.record_all(&[
        (action(&www, PlanAction::Create, ActionResult::Ok), own()),
        (
            action(&old, PlanAction::Delete, ActionResult::Ok),
            InventoryChange::Forget,
        ),
    ])
    .await
    .unwrap();
    // A broken call: the outcome is unknown, the journal entry stays.
    run.record(
        &action(&new, PlanAction::Create, ActionResult::Failed),
        &InventoryChange::Unknown,
    )
    .await
    .unwrap();
    let id = run.id();
    run.finish(
        RunOutcome::Partial,
        RunCounts {
            changes: 3,
            failures: 1,
        },
    )
    .await
    .unwrap();

    let owned = store.owned("t").await.unwrap();
    let owned: Vec<(String, bool)> = owned
        .iter()
        .map(|o| (o.address.to_string(), o.pending))
        .collect();
    assert_eq!(
        owned,
        [(new.to_string(), true), (www.to_string(), false)],
        "the delete forgot `old`; `new` stays pending"
    );
    let journal = store.intents("t").await.unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].address, new);
    let statuses = store.statuses("t").await.unwrap();
    assert_eq!(statuses[0].status, ResourceStatus::Failed);
    assert_eq!(
        statuses[0].last_error.as_deref(),
        Some("the server said no")
    );
    assert_eq!(statuses[1].status, ResourceStatus::InSync);

    let history = store.history("t", 10).await.unwrap();
    assert_eq!(history.len(), 2);
    let recorded = &history[0];
    assert_eq!(recorded.id, id);
    assert_eq!(recorded.kind, RunKind::Reconcile);
    assert_eq!(recorded.outcome, Some(RunOutcome::Partial));
    assert_eq!((recorded.changes, recorded.failures), (3, 1));
    assert_eq!(recorded.commit_author, "Ada <ada@example.org>");
    assert_eq!(recorded.plan_checksum, "sum");
    assert!(recorded.finished_at.is_some());
    assert_eq!(recorded.daemon, None);
    let actions: Vec<(String, AuditAction, ActionResult, i64)> = recorded
        .actions
        .iter()
        .map(|a| (a.address.clone(), a.action, a.result, a.duration_ms))
        .collect();
    assert_eq!(
        actions,
        [
            (
                www.to_string(),
                AuditAction::Change(PlanAction::Create),
                ActionResult::Ok,
                7
            ),
            (
                old.to_string(),
                AuditAction::Change(PlanAction::Delete),
                ActionResult::Ok,
                7
            ),
            (
                new.to_string(),
                AuditAction::Change(PlanAction::Create),
                ActionResult::Failed,
                7
            ),
        ]
    );
    // What every row of a write shares (bound once for them all) is the
    // run's: its number, tenant, commit and author, on each audit row.
    let shared: Vec<(i64, String, String, String)> = store
        .query("SELECT run_id, tenant, commit_id, commit_author FROM audit WHERE run_id = ?")
        .bind(id)
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            use sqlx::Row;
            (row.get(0), row.get(1), row.get(2), row.get(3))
        })
        .collect();
    let expected = (
        id,
        "t".to_string(),
        "c0ffee".to_string(),
        "Ada <ada@example.org>".to_string(),
    );
    assert_eq!(shared, vec![expected; 3]);
    // As the JSON APIs show it: the same words as before.
    let json = serde_json::to_value(recorded).unwrap();
    assert_eq!(json["kind"], "reconcile");
    assert_eq!(json["outcome"], "partial");
    assert_eq!(json["actions"][1]["action"], "delete");
    assert_eq!(json["actions"][2]["result"], "failed");
    assert_eq!(applied(&store, "t").await, ["c0ffee"]);
}

/// A large inventory is decoded apart from the reader's task (on the
/// blocking pool), a small one in place: both read back every object as
/// recorded, by address, with the journal beside them.
#[tokio::test]
async fn a_large_inventory_decoded_apart_reads_back_every_object() {
    let (store, _dir) = store().await;
    let addresses: Vec<Address> = (0..1_500).map(|i| address(&format!("r{i}"))).collect();
    let padded = InventoryChange::Own {
        spec_digest: "spec".into(),
        state: Some(serde_json::json!({"ttl": 300, "note": "x".repeat(200)})),
        lifecycle: Lifecycle::default(),
        depends_on: vec![address("r0")],
        pending: false,
        diverged: None,
        recheck: false,
    };
    let run = store
        .begin_run("big", RunKind::Apply, &commit(), "sum")
        .await
        .unwrap();
    let records: Vec<(ActionRecord<'_>, InventoryChange)> = addresses
        .iter()
        .map(|a| {
            (
                action(a, PlanAction::Create, ActionResult::Ok),
                padded.clone(),
            )
        })
        .collect();
    run.record_all(&records).await.unwrap();
    run.journal(&[(&addresses[7], PlanAction::Update, Some("spec"))])
        .await
        .unwrap();
    let small = store
        .begin_run("t", RunKind::Apply, &commit(), "sum")
        .await
        .unwrap();
    small
        .record(
            &action(&address("small"), PlanAction::Create, ActionResult::Ok),
            &own(),
        )
        .await
        .unwrap();

    let document = store.owned_document("big").await.unwrap();
    assert!(
        document.len() >= inventory::DECODE_APART_FROM,
        "the inventory is large enough to be decoded apart ({} bytes)",
        document.len()
    );
    let read = store.inventory("big").await.unwrap();
    let owned = store.owned("big").await.unwrap();
    assert_eq!(owned.len(), addresses.len());
    assert_eq!(read.owned.len(), owned.len());
    for object in &owned {
        assert_eq!(read.owned.get(&object.address), Some(object));
    }
    assert_eq!(read.owned[&addresses[3]].depends_on, [address("r0")]);
    assert_eq!(read.interrupted.get(&addresses[7]), Some(&run.id()));

    let small = store.owned_document("t").await.unwrap();
    assert!(small.len() < inventory::DECODE_APART_FROM);
    let read = store.inventory("t").await.unwrap();
    assert_eq!(read.owned.len(), 1);
    assert!(read.owned.contains_key(&address("small")));
}

#[tokio::test]
async fn a_refused_commit_is_a_run_with_its_reason_and_no_actions() {
    let (store, _dir) = store().await;
    let reason = "commit c0ffee is not signed, and this tenant applies only signed commits";
    let id = store
        .record_refusal("t", RunKind::Reconcile, &commit(), reason)
        .await
        .unwrap();
    let history = store.history("t", 10).await.unwrap();
    let refused = &history[0];
    assert_eq!(refused.id, id);
    assert_eq!(refused.kind, RunKind::Reconcile);
    assert_eq!(refused.outcome, Some(RunOutcome::Refused));
    assert_eq!(refused.reason.as_deref(), Some(reason));
    assert_eq!(
        (refused.commit_id.as_str(), refused.commit_author.as_str()),
        ("c0ffee", "Ada <ada@example.org>")
    );
    assert!(refused.finished_at.is_some());
    assert!(refused.actions.is_empty());
    assert_eq!((refused.changes, refused.failures), (0, 0));
    let json = serde_json::to_value(refused).unwrap();
    assert_eq!(json["outcome"], "refused");
    assert_eq!(json["reason"], reason);
    // A refused commit was never applied: a rollback cannot return to it.
    assert!(applied(&store, "t").await.is_empty());
    // The other runs have no reason.
    store
        .record_event("t", EventKind::Suspend, &commit())
        .await
        .unwrap();
    assert_eq!(store.history("t", 1).await.unwrap()[0].reason, None);
}

#[tokio::test]
async fn a_plan_is_recorded_whole_with_its_counts_and_findings() {
    let (store, _dir) = store().await;
    let finding: crate::plan::PolicyFinding = serde_json::from_value(serde_json::json!({
        "policy": "production-ttl",
        "enforcement": "mandatory",
        "rule": "dns-min-ttl",
        "severity": "error",
        "message": "a TTL of 60 s, under 300 s",
    }))
    .unwrap();
    let id = store
        .record_whole_run(WholeRun {
            plan_checksum: "sum",
            outcome: RunOutcome::Planned,
            counts: RunCounts::changes(3),
            findings: std::slice::from_ref(&finding),
            ..WholeRun::new("t", RunKind::Plan, &commit())
        })
        .await
        .unwrap();
    let run = &store.history("t", 1).await.unwrap()[0];
    assert_eq!(run.id, id);
    assert_eq!(
        (run.kind, run.outcome),
        (RunKind::Plan, Some(RunOutcome::Planned))
    );
    assert_eq!(
        (
            run.commit_id.as_str(),
            run.commit_author.as_str(),
            run.commit_summary.as_str()
        ),
        ("c0ffee", "Ada <ada@example.org>", "add www")
    );
    assert_eq!(run.plan_checksum, "sum");
    assert_eq!((run.changes, run.failures), (3, 0));
    assert_eq!(run.findings, [finding]);
    assert_eq!(
        run.finished_at,
        Some(run.started_at),
        "begun and finished at once"
    );
    assert_eq!((run.reason.as_deref(), run.daemon.as_deref()), (None, None));
    assert!(run.actions.is_empty());
    // A plan is no apply: a rollback cannot return to its commit.
    assert!(applied(&store, "t").await.is_empty());
}

#[tokio::test]
async fn applied_commits_keep_the_place_of_their_first_success() {
    let (store, _dir) = store().await;
    let at = |id: &str| CommitInfo {
        id: id.into(),
        summary: format!("make it {id}"),
        ..commit()
    };
    let run = async |kind: RunKind, id: &str, outcome: RunOutcome| {
        let run = store.begin_run("t", kind, &at(id), "").await.unwrap();
        run.finish(outcome, RunCounts::default()).await.unwrap();
    };
    run(RunKind::Plan, "v0", RunOutcome::Planned).await;
    run(RunKind::Apply, "v1", RunOutcome::Succeeded).await;
    run(RunKind::Reconcile, "v2", RunOutcome::Succeeded).await;
    run(RunKind::Apply, "v3", RunOutcome::Succeeded).await;
    // Applied again by rollbacks: v2 and v1 keep their places.
    run(RunKind::Rollback, "v2", RunOutcome::Succeeded).await;
    run(RunKind::Rollback, "v1", RunOutcome::Succeeded).await;
    // Never applied with success.
    run(RunKind::Apply, "v4", RunOutcome::Failed).await;
    run(RunKind::Reconcile, "v5", RunOutcome::Partial).await;
    run(RunKind::Apply, "v6", RunOutcome::Blocked).await;
    store
        .record_refusal("t", RunKind::Reconcile, &at("v7"), "not signed")
        .await
        .unwrap();
    assert_eq!(applied(&store, "t").await, ["v1", "v2", "v3"]);
    assert_eq!(
        store.applied_commits("t").await.unwrap()[1],
        AppliedCommit {
            id: "v2".into(),
            summary: "make it v2".into()
        }
    );
}

#[tokio::test]
async fn a_change_whose_provider_did_not_converge_is_owned_failed_and_held() {
    let (store, _dir) = store().await;
    let (www, api) = (address("www"), address("api"));
    let run = store
        .begin_run("t", RunKind::Reconcile, &commit(), "sum")
        .await
        .unwrap();
    let lifecycle = Lifecycle::default();
    run.mark_pending(&[(&www, &lifecycle, &[]), (&api, &lifecycle, &[])])
        .await
        .unwrap();
    let reason = r#"provider `dns` did not converge on ttl (applied 300, observed "300")"#;
    let divergence = Divergence {
        plugin: "d1d1".into(),
        reason: reason.into(),
    };
    let diverged = owned_with(Some(divergence.clone()));
    let mut made = action(&www, PlanAction::Create, ActionResult::Failed);
    made.error = Some(reason.into());
    run.record_all(&[
        (made, diverged),
        // A create that failed, and may have made part of the object:
        // still recorded as started.
        (
            action(&api, PlanAction::Create, ActionResult::Failed),
            InventoryChange::Keep,
        ),
    ])
    .await
    .unwrap();
    run.finish(RunOutcome::Failed, RunCounts::changes(2))
        .await
        .unwrap();

    let owned = store.owned("t").await.unwrap();
    let (api_row, www_row) = (&owned[0], &owned[1]);
    assert_eq!(
        (www_row.pending, &www_row.diverged),
        (false, &Some(divergence.clone()))
    );
    assert_eq!(www_row.spec_digest, "spec");
    assert_eq!((api_row.pending, &api_row.diverged), (true, &None));
    let statuses = store.statuses("t").await.unwrap();
    assert_eq!(statuses[1].status, ResourceStatus::Failed);
    assert_eq!(statuses[1].last_error.as_deref(), Some(reason));
    assert!(statuses[1].not_converged);
    assert_eq!(statuses[0].status, ResourceStatus::Failed);
    assert!(!statuses[0].not_converged);

    // Applied again, converging: owned without a hold, in sync.
    let again = store
        .begin_run("t", RunKind::Reconcile, &commit(), "sum")
        .await
        .unwrap();
    again
        .record(&action(&www, PlanAction::Update, ActionResult::Ok), &own())
        .await
        .unwrap();
    again
        .finish(RunOutcome::Succeeded, RunCounts::changes(1))
        .await
        .unwrap();
    assert_eq!(store.owned("t").await.unwrap()[1].diverged, None);
    let statuses = store.statuses("t").await.unwrap();
    assert_eq!(statuses[1].status, ResourceStatus::InSync);
    assert!(!statuses[1].not_converged);

    // Held again; a plan that finds it in sync ends the hold.
    let held = store
        .begin_run("t", RunKind::Reconcile, &commit(), "sum")
        .await
        .unwrap();
    let mut made = action(&www, PlanAction::Update, ActionResult::Failed);
    made.error = Some(reason.into());
    held.record(&made, &owned_with(Some(divergence)))
        .await
        .unwrap();
    held.finish(RunOutcome::Failed, RunCounts::changes(1))
        .await
        .unwrap();
    assert!(store.statuses("t").await.unwrap()[1].not_converged);
    store
        .set_statuses("t", &[(&www, ResourceStatus::InSync, None)])
        .await
        .unwrap();
    assert_eq!(store.owned("t").await.unwrap()[1].diverged, None);
    assert!(!store.statuses("t").await.unwrap()[1].not_converged);
}

#[tokio::test]
async fn drift_and_events_are_runs_of_their_own() {
    let (store, _dir) = store().await;
    let www = address("www");
    let run = store
        .begin_run("t", RunKind::Apply, &commit(), "sum")
        .await
        .unwrap();
    run.record(&action(&www, PlanAction::Create, ActionResult::Ok), &own())
        .await
        .unwrap();
    run.finish(RunOutcome::Succeeded, RunCounts::changes(1))
        .await
        .unwrap();

    let drift = store
        .begin_run("t", RunKind::Drift, &commit(), "sum")
        .await
        .unwrap();
    drift
        .record_drift(&[DriftRecord {
            address: &www,
            desired_digest: Some("desired".into()),
            observed_digest: Some("observed".into()),
            message: "www was changed outside Cairn".into(),
        }])
        .await
        .unwrap();
    drift
        .finish(RunOutcome::Detected, RunCounts::changes(1))
        .await
        .unwrap();
    let event = store
        .record_event("t", EventKind::ReleaseHold, &commit())
        .await
        .unwrap();

    let history = store.history("t", 10).await.unwrap();
    assert_eq!(history[0].id, event);
    assert_eq!(history[0].kind, RunKind::ReleaseHold);
    assert_eq!(history[0].outcome, Some(RunOutcome::Succeeded));
    assert_eq!(history[0].plan_checksum, "");
    assert!(history[0].actions.is_empty());
    let found = &history[1].actions[0];
    assert_eq!(history[1].kind, RunKind::Drift);
    assert_eq!(found.action, AuditAction::Drift);
    assert_eq!(found.result, ActionResult::Detected);
    assert_eq!(found.before_digest.as_deref(), Some("desired"));
    assert_eq!(found.after_digest.as_deref(), Some("observed"));
    assert_eq!(
        found.error.as_deref(),
        Some("www was changed outside Cairn")
    );
    // Found, not acted on: the inventory and the status are as they were.
    assert_eq!(store.owned("t").await.unwrap()[0].spec_digest, "spec");
    assert_eq!(
        store.statuses("t").await.unwrap()[0].status,
        ResourceStatus::InSync
    );
}

#[tokio::test]
async fn an_unfinished_run_is_closed_as_interrupted() {
    let (store, _dir) = store().await;
    let run = store
        .begin_run("t", RunKind::Reconcile, &commit(), "sum")
        .await
        .unwrap();
    drop(run);
    assert_eq!(store.history("t", 1).await.unwrap()[0].outcome, None);
    assert_eq!(store.close_interrupted_runs("t").await.unwrap(), 1);
    assert_eq!(
        store.history("t", 1).await.unwrap()[0].outcome,
        Some(RunOutcome::Interrupted)
    );
    assert!(applied(&store, "t").await.is_empty());
}

#[tokio::test]
async fn the_schema_takes_every_word_and_refuses_others() {
    let (store, _dir) = store().await;
    let www = address("www");
    for &kind in RunKind::ALL {
        for &outcome in RunOutcome::ALL {
            let run = store.begin_run("t", kind, &commit(), "").await.unwrap();
            run.finish(outcome, RunCounts::default()).await.unwrap();
        }
    }
    let run = store
        .begin_run("t", RunKind::Apply, &commit(), "")
        .await
        .unwrap();
    for plan_action in super::vocabulary::tests::every_plan_action() {
        run.journal(&[(&www, plan_action, None)]).await.unwrap();
        for &result in ActionResult::ALL {
            run.record(&action(&www, plan_action, result), &own())
                .await
                .unwrap();
        }
    }
    for &status in ResourceStatus::ALL {
        store
            .set_statuses("t", &[(&www, status, None)])
            .await
            .unwrap();
    }
    let count = RunKind::ALL.len() * RunOutcome::ALL.len();
    assert_eq!(store.history("t", 1_000).await.unwrap().len(), count + 1);

    let refused = [
        (
            "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum, started_at)
             VALUES ('t', 'import', '', '', '', '', 0)",
            "runs_kind_is_known",
        ),
        ("UPDATE runs SET outcome = 'done'", "runs_outcome_is_known"),
        (
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action, result, duration_ms)
             VALUES (1, 0, 't', '', '', 'a', 'destroy', 'ok', 0)",
            "audit_action_is_known",
        ),
        (
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action, result, duration_ms)
             VALUES (1, 0, 't', '', '', 'a', 'create', 'fine', 0)",
            "audit_result_is_known",
        ),
        (
            "INSERT INTO intents (tenant, run_id, address, action, created_at) VALUES ('t', 1, 'a', 'drift', 0)",
            "intents_action_is_known",
        ),
        (
            "UPDATE resources SET status = 'unknown'",
            "resources_status_is_known",
        ),
    ];
    for (sql, constraint) in refused {
        let error = store.query(sql).execute(&store.pool).await.unwrap_err();
        assert!(error.to_string().contains(constraint), "{sql}: {error}");
    }
}

/// Each engine's migrations, in the order they run.
fn migrations(engine: &str) -> Vec<(String, String)> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The text of the newest definition of the constraint `name` (from
/// `CONSTRAINT name` to the parenthesis that closes its `CHECK`), and the
/// migration that holds it.
fn newest_definition(migrations: &[(String, String)], name: &str) -> (String, String) {
    let start = format!("CONSTRAINT {name}");
    let mut newest = None;
    for (file, text) in migrations {
        // Its last definition in the file: the name, then blanks, then
        // CHECK (not a longer name, nor a DROP CONSTRAINT).
        let Some(at) = text
            .match_indices(start.as_str())
            .map(|(at, _)| at)
            .filter(|&at| text[at + start.len()..].trim_start().starts_with("CHECK"))
            .last()
        else {
            continue;
        };
        let rest = &text[at..];
        let open = rest.find('(').expect("a CHECK (...)");
        let mut depth = 0;
        let close = rest[open..]
            .char_indices()
            .find_map(|(offset, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                (depth == 0).then_some(open + offset)
            })
            .expect("the CHECK's parentheses close");
        newest = Some((file.clone(), rest[..=close].to_string()));
    }
    newest.unwrap_or_else(|| panic!("no migration defines {name}"))
}

#[test]
fn both_engines_newest_definitions_list_every_word() {
    let kinds: Vec<&str> = RunKind::ALL.iter().map(|w| w.as_str()).collect();
    let outcomes: Vec<&str> = RunOutcome::ALL.iter().map(|w| w.as_str()).collect();
    let results: Vec<&str> = ActionResult::ALL.iter().map(|w| w.as_str()).collect();
    let statuses: Vec<&str> = ResourceStatus::ALL.iter().map(|w| w.as_str()).collect();
    let actions: Vec<&str> = super::vocabulary::tests::every_plan_action()
        .into_iter()
        .map(PlanAction::as_str)
        .collect();
    let audited: Vec<&str> = actions
        .iter()
        .copied()
        .chain([AuditAction::Drift.as_str()])
        .collect();
    let checks = [
        ("runs_kind_is_known", &kinds),
        ("runs_outcome_is_known", &outcomes),
        ("audit_action_is_known", &audited),
        ("audit_result_is_known", &results),
        ("intents_action_is_known", &actions),
        ("resources_status_is_known", &statuses),
    ];
    for engine in ["sqlite", "postgres"] {
        let migrations = migrations(engine);
        for (name, words) in checks {
            let (file, definition) = newest_definition(&migrations, name);
            for word in words.iter() {
                assert!(
                    definition.contains(&format!("'{word}'")),
                    "{engine}/{file}: {name} does not list `{word}`"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_unknown_word_read_back_is_an_error_naming_it() {
    let (store, _dir) = store().await;
    // As a store written by a later version would hold it: on one
    // connection, past the constraints.
    let mut connection = store.pool.acquire().await.unwrap();
    for sql in [
        "PRAGMA ignore_check_constraints = ON",
        "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum, started_at)
         VALUES ('t', 'import', '', '', '', '', 0)",
        "PRAGMA ignore_check_constraints = OFF",
    ] {
        store.query(sql).execute(&mut *connection).await.unwrap();
    }
    drop(connection);
    let error = store.history("t", 1).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("`import`"), "{error}");
    assert!(
        std::error::Error::source(&error).is_some(),
        "the unknown word is the error's source"
    );
}

/// A SQLite store migrated up to `version` only, as the Cairn of that
/// version left it, holding `rows` as it wrote them: its URL, and the
/// folder to keep while it is used.
async fn store_at_version(version: i64, rows: &[&'static str]) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("state.db").display());
    let old = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(version, &old)
        .await
        .unwrap();
    for sql in rows {
        sqlx::query(*sql).execute(&old).await.unwrap();
    }
    old.close().await;
    (url, dir)
}

#[tokio::test]
async fn a_store_written_before_the_vocabulary_was_typed_opens_and_reads() {
    // The schema as the version before `0004_vocabulary` left it, and rows
    // as that version wrote them.
    let (url, _dir) = store_at_version(
        3,
        &[
            "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                               started_at, finished_at, outcome, changes, failures)
             VALUES ('t', 'reconcile', 'c0ffee', 'Ada', 'add www', 'sum', 1, 2, 'succeeded', 1, 0)",
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action, result, duration_ms)
             VALUES (1, 2, 't', 'c0ffee', 'Ada', 'dns/record/www.example.org./A', 'create', 'ok', 5)",
            "INSERT INTO resources (tenant, address, provider, type_name, resource_id, spec_digest,
                                    lifecycle, depends_on, commit_id, updated_at, status)
             VALUES ('t', 'dns/record/www.example.org./A', 'dns', 'record', 'www.example.org./A', 'spec',
                     '{}', '[]', 'c0ffee', 2, 'drifted')",
            "INSERT INTO intents (tenant, run_id, address, action, created_at)
             VALUES ('t', 1, 'dns/record/www.example.org./A', 'update', 3)",
        ],
    )
    .await;

    let store = StateStore::open(&url).await.unwrap();
    let history = store.history("t", 10).await.unwrap();
    assert_eq!(history[0].kind, RunKind::Reconcile);
    assert_eq!(history[0].outcome, Some(RunOutcome::Succeeded));
    assert_eq!(
        history[0].actions[0].action,
        AuditAction::Change(PlanAction::Create)
    );
    assert_eq!(
        store.intents("t").await.unwrap()[0].action,
        PlanAction::Update
    );
    assert_eq!(
        store.statuses("t").await.unwrap()[0].status,
        ResourceStatus::Drifted
    );
    assert_eq!(applied(&store, "t").await, ["c0ffee"]);
}

/// `0007_vocabulary_checks` makes the four checked tables again: every row
/// comes through with its columns, each AUTOINCREMENT counter goes on from
/// where it was (a run number once given is not given again, even when
/// that run is gone), the journal and the audit log still refer to their
/// runs, and the audit log is still append-only.
#[tokio::test]
async fn the_tables_made_again_keep_rows_counters_references_and_the_append_only_log() {
    let (url, _dir) = store_at_version(
        6,
        &[
            "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                               started_at, finished_at, outcome, daemon, lease_token)
             VALUES ('t', 'apply', 'c0ffee', 'Ada', 'add www', 'sum', 1, 2, 'succeeded', 'd1', 7)",
            "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                               started_at, finished_at, outcome, reason)
             VALUES ('t', 'reconcile', 'bad', 'Eve', 'unsigned', '', 3, 3, 'refused', 'not signed')",
            "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum, started_at)
             VALUES ('t', 'plan', 'c0ffee', 'Ada', 'add www', 'sum', 4)",
            "DELETE FROM runs WHERE id = 3",
            "INSERT INTO audit (run_id, time, tenant, commit_id, commit_author, address, action,
                                after_digest, result, duration_ms)
             VALUES (1, 2, 't', 'c0ffee', 'Ada', 'dns/record/www.example.org./A', 'create', 'after', 'ok', 5)",
            "INSERT INTO resources (tenant, address, provider, type_name, resource_id, spec_digest,
                                    lifecycle, depends_on, commit_id, updated_at, status, last_error, diverged)
             VALUES ('t', 'dns/record/www.example.org./A', 'dns', 'record', 'www.example.org./A', 'spec',
                     '{}', '[]', 'c0ffee', 2, 'failed', 'it broke', '{\"plugin\":\"abc\",\"reason\":\"ttl\"}')",
            "INSERT INTO intents (tenant, run_id, address, action, desired_digest, created_at)
             VALUES ('t', 1, 'dns/record/www.example.org./A', 'update', 'spec', 3)",
        ],
    )
    .await;

    let store = StateStore::open(&url).await.unwrap();
    let history = store.history("t", 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].outcome, Some(RunOutcome::Refused));
    assert_eq!(history[0].reason.as_deref(), Some("not signed"));
    assert_eq!(history[1].actions[0].after_digest.as_deref(), Some("after"));
    let status = &store.statuses("t").await.unwrap()[0];
    assert_eq!(status.status, ResourceStatus::Failed);
    assert_eq!(status.last_error.as_deref(), Some("it broke"));
    assert_eq!(store.intents("t").await.unwrap()[0].run_id, 1);

    let run = store
        .begin_run("t", RunKind::Apply, &commit(), "")
        .await
        .unwrap();
    assert_eq!(run.id(), 4, "run 3 is gone, and its number with it");
    drop(run);
    for (sql, refusal) in [
        ("UPDATE audit SET result = 'failed'", "append-only"),
        ("DELETE FROM audit", "append-only"),
        (
            "INSERT INTO intents (tenant, run_id, address, action, created_at) VALUES ('t', 99, 'a', 'update', 0)",
            "FOREIGN KEY",
        ),
    ] {
        let error = store.query(sql).execute(&store.pool).await.unwrap_err();
        assert!(error.to_string().contains(refusal), "{sql}: {error}");
    }
}

#[tokio::test]
async fn a_page_of_statuses_is_filtered_searched_and_counted_in_the_store() {
    let (store, _dir) = store().await;
    let names: Vec<Address> = (0..12).map(|i| address(&format!("r{i:02}"))).collect();
    let run = store
        .begin_run("t", RunKind::Apply, &commit(), "sum")
        .await
        .unwrap();
    for name in &names {
        run.record(&action(name, PlanAction::Create, ActionResult::Ok), &own())
            .await
            .unwrap();
    }
    run.finish(RunOutcome::Succeeded, RunCounts::changes(12))
        .await
        .unwrap();
    let run = store
        .begin_run("t", RunKind::Apply, &commit(), "sum")
        .await
        .unwrap();
    for (index, name) in names.iter().enumerate().step_by(4) {
        let mut failed = action(name, PlanAction::Update, ActionResult::Failed);
        failed.error = Some(format!("the server said no to 100%_{index}"));
        run.record(&failed, &InventoryChange::Keep).await.unwrap();
    }
    run.finish(RunOutcome::Partial, RunCounts::changes(3))
        .await
        .unwrap();
    let all = store.statuses("t").await.unwrap();
    let page = |status: Option<ResourceStatus>, text: &'static str, offset: usize| {
        let store = store.clone();
        async move {
            store
                .statuses_page(
                    "t",
                    &StatusQuery {
                        status,
                        text,
                        offset,
                        limit: 5,
                    },
                )
                .await
                .unwrap()
        }
    };
    // Pages of the whole list are slices of it.
    let second = page(None, "", 5).await;
    assert_eq!((second.matching, second.owned), (all.len(), all.len()));
    let addresses = |records: &[ResourceStatusRecord]| -> Vec<String> {
        records.iter().map(|r| r.address.clone()).collect()
    };
    assert_eq!(addresses(&second.records), addresses(&all[5..10]));
    // The status as statuses() reports it, failed creates included.
    let failed = page(Some(ResourceStatus::Failed), "", 0).await;
    let expected: Vec<&ResourceStatusRecord> = all
        .iter()
        .filter(|r| r.status == ResourceStatus::Failed)
        .collect();
    assert_eq!(failed.matching, expected.len());
    assert!(failed.matching > 0);
    let in_sync = page(Some(ResourceStatus::InSync), "", 0).await;
    assert_eq!(
        in_sync.matching,
        all.iter()
            .filter(|r| r.status == ResourceStatus::InSync)
            .count()
    );
    // Text in the address or the error, any case; `%` and `_` are text.
    let searched = page(None, "R0", 0).await;
    assert_eq!(searched.matching, 10, "r00 to r09");
    let by_error = page(None, "100%_8", 0).await;
    assert_eq!(addresses(&by_error.records), [address("r08").to_string()]);
    assert_eq!(page(None, "100%_x", 0).await.matching, 0);
}
