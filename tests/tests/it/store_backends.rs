//! Every query of the state store, run against both engines: the embedded
//! SQLite and a real PostgreSQL server started for the test. One suite,
//! two stores: whatever holds on one holds on the other.

use cairn::model::{Address, Lifecycle, OnDelete};
use cairn::plan::PlanAction;
use cairn::source::CommitInfo;
use cairn::store::{
    ActionRecord, ActionResult, Divergence, Fence, InventoryChange, ResourceStatus, RunCounts,
    RunKind, RunOutcome, StateStore, StoreError, WholeRun,
};
use cairn_tests::postgres::Postgres;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn commit(id: &str) -> CommitInfo {
    CommitInfo {
        id: id.into(),
        author: "Ada <ada@example.org>".into(),
        summary: "add www".into(),
        time: 0,
    }
}

fn record(address: &Address, action: PlanAction) -> ActionRecord<'_> {
    ActionRecord {
        address,
        action,
        before_digest: None,
        after_digest: Some("a".into()),
        result: ActionResult::Ok,
        error: None,
        summary: Some(format!("{} {address}", action.as_str())),
        duration: Duration::from_millis(1),
    }
}

fn own(digest: &str) -> InventoryChange {
    owned_with(digest, None)
}

/// Owned at spec `digest`, with `diverged` when its provider did not
/// converge.
fn owned_with(digest: &str, diverged: Option<Divergence>) -> InventoryChange {
    InventoryChange::Own {
        spec_digest: digest.into(),
        state: Some(serde_json::json!({"ttl": 300, "name": "ünïcode"})),
        lifecycle: Lifecycle::default(),
        depends_on: vec![Address::parse("dns/zone/example.org.").unwrap()],
        pending: false,
        diverged,
        recheck: true,
    }
}

/// The inventory, the journal, the audit log, runs and control state.
async fn inventory_runs_and_audit(url: &str) {
    let store = StateStore::open(url).await.unwrap();
    // Opening again (a second process, a restart) migrates nothing twice.
    let store_again = StateStore::open(url).await.unwrap();
    let commit = commit("c0ffee");
    let run = store
        .begin_run("t", RunKind::Apply, &commit, "sum")
        .await
        .unwrap();

    // 1,234 rows: more than one multi-row statement.
    let addresses: Vec<Address> = (0..1_234)
        .map(|i| Address::parse(&format!("dns/record/r{i}.example.org./A")).unwrap())
        .collect();
    let lifecycle = Lifecycle::default();
    let pending: Vec<(&Address, &Lifecycle, &[Address])> =
        addresses.iter().map(|a| (a, &lifecycle, &[][..])).collect();
    run.mark_pending(&pending).await.unwrap();
    assert!(
        store
            .owned("t")
            .await
            .unwrap()
            .iter()
            .all(|o| o.pending && !o.recheck)
    );
    let statuses = store.statuses("t").await.unwrap();
    assert_eq!(statuses.len(), 1_234);
    assert!(statuses.iter().all(|s| s.status == ResourceStatus::Pending));

    let intents: Vec<(&Address, PlanAction, Option<&str>)> = addresses
        .iter()
        .map(|a| (a, PlanAction::Create, Some("d")))
        .collect();
    run.journal(&intents).await.unwrap();
    let journal = store.intents("t").await.unwrap();
    assert_eq!(journal.len(), 1_234);
    assert_eq!(journal[0].action, PlanAction::Create);
    assert_eq!(journal[0].desired_digest.as_deref(), Some("d"));

    let rows: Vec<(ActionRecord, InventoryChange)> = addresses
        .iter()
        .map(|address| (record(address, PlanAction::Create), own("d1")))
        .collect();
    run.record_all(&rows).await.unwrap();
    run.finish(RunOutcome::Succeeded, RunCounts::changes(1_234))
        .await
        .unwrap();
    let owned = store_again.owned("t").await.unwrap();
    assert_eq!(owned.len(), 1_234);
    assert!(
        owned
            .iter()
            .all(|o| !o.pending && o.spec_digest == "d1" && o.recheck)
    );
    assert_eq!(owned[0].state_value().unwrap().unwrap()["name"], "ünïcode");
    assert_eq!(owned[0].depends_on.len(), 1);
    assert!(store.owned("other").await.unwrap().is_empty());
    assert!(store.intents("t").await.unwrap().is_empty());

    let history = store.history("t", 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].actions.len(), 1_234);
    // What each change did comes back with it, in the provider's words.
    let first = &history[0].actions[0];
    assert_eq!(
        first.summary.as_deref(),
        Some(format!("{} {}", first.action.as_str(), first.address).as_str())
    );
    assert_eq!(history[0].outcome, Some(RunOutcome::Succeeded));
    assert_eq!(history[0].changes, 1_234);
    // Successful applies count, in the order of their first success;
    // plans and refusals do not.
    let plan = store
        .record_whole_run(WholeRun {
            plan_checksum: "sum",
            outcome: RunOutcome::Planned,
            counts: RunCounts::changes(2),
            ..WholeRun::new("t", RunKind::Plan, &commit)
        })
        .await
        .unwrap();
    let planned = &store.history("t", 1).await.unwrap()[0];
    assert_eq!(planned.id, plan);
    assert_eq!(planned.outcome, Some(RunOutcome::Planned));
    assert_eq!(
        (planned.changes, planned.plan_checksum.as_str()),
        (2, "sum")
    );
    assert_eq!(planned.finished_at, Some(planned.started_at));
    let later = store
        .begin_run("t", RunKind::Reconcile, &self::commit("later"), "sum")
        .await
        .unwrap();
    later
        .finish(RunOutcome::Succeeded, RunCounts::default())
        .await
        .unwrap();
    let again = store
        .begin_run("t", RunKind::Rollback, &commit, "sum")
        .await
        .unwrap();
    again
        .finish(RunOutcome::Succeeded, RunCounts::default())
        .await
        .unwrap();
    store
        .record_refusal(
            "t",
            RunKind::Reconcile,
            &self::commit("unsigned"),
            "not signed",
        )
        .await
        .unwrap();
    let refused = &store.history("t", 1).await.unwrap()[0];
    assert_eq!(refused.outcome, Some(RunOutcome::Refused));
    assert_eq!(refused.reason.as_deref(), Some("not signed"));
    assert_eq!(refused.commit_id, "unsigned");
    let applied: Vec<String> = store
        .applied_commits("t")
        .await
        .unwrap()
        .into_iter()
        .map(|commit| commit.id)
        .collect();
    assert_eq!(applied, ["c0ffee", "later"]);
    let reconcile = store
        .begin_run("t", RunKind::Reconcile, &commit, "sum")
        .await
        .unwrap();

    // A failure marks the resource; drift and repair set statuses.
    let failed = ActionRecord {
        result: ActionResult::Failed,
        error: Some("the server said no".into()),
        ..record(&addresses[1_233], PlanAction::Update)
    };
    reconcile
        .record(&failed, &InventoryChange::Keep)
        .await
        .unwrap();
    store
        .set_statuses(
            "t",
            &[(&addresses[1_232], ResourceStatus::Drifted, Some("moved"))],
        )
        .await
        .unwrap();
    let statuses = store.statuses("t").await.unwrap();
    let status_of = |address: &Address| {
        statuses
            .iter()
            .find(|s| s.address == address.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(status_of(&addresses[1_233]).status, ResourceStatus::Failed);
    assert_eq!(
        status_of(&addresses[1_233]).last_error.as_deref(),
        Some("the server said no")
    );
    assert_eq!(status_of(&addresses[1_232]).status, ResourceStatus::Drifted);

    // A provider that did not converge: owned, failed, held; a status set
    // ends the hold.
    let divergence = Divergence {
        plugin: "d1d1".into(),
        reason: "provider `dns` did not converge on ttl (applied 300, observed \"300\")".into(),
    };
    let diverged = ActionRecord {
        result: ActionResult::Failed,
        error: Some(divergence.reason.clone()),
        ..record(&addresses[1_231], PlanAction::Update)
    };
    let held = owned_with("d2", Some(divergence.clone()));
    reconcile.record(&diverged, &held).await.unwrap();
    let owned = store.owned("t").await.unwrap();
    let row = owned
        .iter()
        .find(|o| o.address == addresses[1_231])
        .unwrap();
    assert_eq!(row.diverged.as_ref(), Some(&divergence));
    assert_eq!(row.spec_digest, "d2");
    let status = store
        .statuses("t")
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.address == addresses[1_231].to_string())
        .unwrap();
    assert!(status.not_converged);
    assert_eq!(status.status, ResourceStatus::Failed);
    assert_eq!(
        status.last_error.as_deref(),
        Some(divergence.reason.as_str())
    );
    store
        .set_statuses("t", &[(&addresses[1_231], ResourceStatus::InSync, None)])
        .await
        .unwrap();
    let owned = store.owned("t").await.unwrap();
    let row = owned
        .iter()
        .find(|o| o.address == addresses[1_231])
        .unwrap();
    assert_eq!(row.diverged, None);

    // Forgetting, and dropping creates that never happened.
    let forget: Vec<(ActionRecord, InventoryChange)> = addresses[..1_000]
        .iter()
        .map(|a| (record(a, PlanAction::Delete), InventoryChange::Forget))
        .collect();
    reconcile.record_all(&forget).await.unwrap();
    assert_eq!(store.owned("t").await.unwrap().len(), 234);
    let unconfirmed = Address::parse("dns/record/new.example.org./A").unwrap();
    reconcile
        .mark_pending(&[(&unconfirmed, &lifecycle, &[])])
        .await
        .unwrap();
    reconcile
        .record(
            &record(&unconfirmed, PlanAction::Create),
            &InventoryChange::DropPending,
        )
        .await
        .unwrap();
    assert_eq!(store.owned("t").await.unwrap().len(), 234);
    reconcile
        .finish(RunOutcome::Succeeded, RunCounts::default())
        .await
        .unwrap();

    // Control state.
    assert!(!store.tenant_state("t").await.unwrap().suspended);
    store.set_suspended("t", true).await.unwrap();
    store.set_hold("t", Some(("c1", "c2"))).await.unwrap();
    store.set_last_commit("t", "c2").await.unwrap();
    store.set_last_applied("t", "c1").await.unwrap();
    let state = store.tenant_state("t").await.unwrap();
    assert!(state.suspended);
    assert_eq!(state.held_commit.as_deref(), Some("c1"));
    assert_eq!(state.held_head.as_deref(), Some("c2"));
    assert_eq!(state.last_commit.as_deref(), Some("c2"));
    assert_eq!(state.last_applied_commit.as_deref(), Some("c1"));
    assert!(state.last_applied_at.is_some());
    store.set_hold("t", None).await.unwrap();
    assert!(store.tenant_state("t").await.unwrap().held_commit.is_none());

    // Runs left open by a dead process are closed as interrupted.
    let _open = store
        .begin_run("t", RunKind::Reconcile, &commit, "s")
        .await
        .unwrap();
    assert_eq!(store.close_interrupted_runs("t").await.unwrap(), 1);
    assert_eq!(
        store.history("t", 1).await.unwrap()[0].outcome,
        Some(RunOutcome::Interrupted)
    );

    let counts = store.tenant_counts().await.unwrap();
    assert!(
        counts
            .resources
            .iter()
            .any(|(tenant, status, n)| tenant == "t"
                && *status == ResourceStatus::Failed
                && *n == 1)
    );
}

/// Leases, fencing, triggers and live status.
async fn leases_and_fencing(url: &str) {
    let store = StateStore::open(url).await.unwrap();
    let lease = Duration::from_secs(30);
    store.heartbeat("a", "127.0.0.1:1", lease).await.unwrap();
    store.heartbeat("b", "127.0.0.1:2", lease).await.unwrap();
    assert_eq!(store.daemons().await.unwrap().len(), 2);
    assert!(store.daemons().await.unwrap().iter().all(|d| d.alive));

    // One holder at a time; the token grows with each new holder.
    let first = store.acquire_lease("f", "a", lease).await.unwrap();
    assert_eq!(first, Some(1));
    assert_eq!(store.acquire_lease("f", "b", lease).await.unwrap(), None);
    assert_eq!(
        store.renew_leases("a", lease).await.unwrap(),
        [("f".to_string(), 1)]
    );
    let leases = store.leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert!(leases[0].live);
    assert_eq!(leases[0].holder, "a");
    assert_eq!(leases[0].holder_address.as_deref(), Some("127.0.0.1:1"));

    let fence_a = Arc::new(Fence::new("f", "a", 1, Instant::now() + lease));
    let as_a = store.fenced(fence_a.clone(), cairn::store::DEFAULT_KEEP_INVENTORY_FROM);
    let commit = commit("c1");
    let run = as_a
        .begin_run("f", RunKind::Reconcile, &commit, "s")
        .await
        .unwrap();
    assert_eq!(
        as_a.history("f", 1).await.unwrap()[0].daemon.as_deref(),
        Some("a")
    );
    assert_eq!(as_a.history("f", 1).await.unwrap()[0].lease_token, Some(1));

    // `a` pauses past its lease; `b` takes the tenant over.
    store.release_lease("f", "a", 1).await.unwrap();
    let second = store.acquire_lease("f", "b", lease).await.unwrap();
    assert_eq!(second, Some(2));
    assert!(store.renew_leases("a", lease).await.unwrap().is_empty());
    let fence_b = Arc::new(Fence::new("f", "b", 2, Instant::now() + lease));
    let as_b = store.fenced(fence_b, cairn::store::DEFAULT_KEEP_INVENTORY_FROM);

    // Every write of `a` is refused, whatever it writes; `b` writes.
    let address = Address::parse("dns/record/www.example.org./A").unwrap();
    let refused = [
        run.journal(&[(&address, PlanAction::Create, None)])
            .await
            .unwrap_err(),
        run.record(&record(&address, PlanAction::Create), &own("d"))
            .await
            .unwrap_err(),
        as_a.set_last_commit("f", "c1").await.unwrap_err(),
        as_a.set_statuses("f", &[(&address, ResourceStatus::Drifted, None)])
            .await
            .unwrap_err(),
        as_a.coordination()
            .save_live_status("f", "a", "{}")
            .await
            .unwrap_err(),
        run.finish(RunOutcome::Succeeded, RunCounts::changes(1))
            .await
            .unwrap_err(),
    ];
    for error in refused {
        assert!(
            matches!(error, StoreError::Fenced { token: 1, .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("no longer holds the lease"),
            "{error}"
        );
    }
    assert!(fence_a.is_lost());
    assert!(store.owned("f").await.unwrap().is_empty());
    assert!(store.intents("f").await.unwrap().is_empty());
    let run_b = as_b
        .begin_run("f", RunKind::Reconcile, &commit, "s")
        .await
        .unwrap();
    run_b
        .record(&record(&address, PlanAction::Create), &own("d"))
        .await
        .unwrap();
    as_b.coordination()
        .save_live_status("f", "b", "{\"name\":\"t\"}")
        .await
        .unwrap();
    assert_eq!(store.owned("f").await.unwrap().len(), 1);
    let live = store.coordination().live_statuses().await.unwrap();
    assert_eq!(live[0].daemon, "b");

    // A lease that ran out by the holder's own clock refuses writes before
    // the store is even asked.
    let expired = store.fenced(
        Arc::new(Fence::new("f", "b", 2, Instant::now())),
        cairn::store::DEFAULT_KEEP_INVENTORY_FROM,
    );
    let error = expired.set_last_commit("f", "c1").await.unwrap_err();
    assert!(error.to_string().contains("ran out"), "{error}");

    // A short lease runs out and is taken with the next token.
    let short = Duration::from_millis(200);
    assert_eq!(store.acquire_lease("u", "a", short).await.unwrap(), Some(1));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.acquire_lease("u", "b", lease).await.unwrap(), Some(2));

    // Triggers reach the holder once; on PostgreSQL a listener is told at
    // once.
    let triggers = store.coordination();
    let mut listener = triggers.trigger_listener().await.unwrap();
    assert_eq!(
        listener.is_some(),
        store.dialect() == cairn::store::dialect::Dialect::Postgres
    );
    triggers.push_trigger("f").await.unwrap();
    if let Some(listener) = &mut listener {
        tokio::time::timeout(Duration::from_secs(5), listener.wait())
            .await
            .expect("the listener is told of the trigger")
            .unwrap();
    }
    triggers.push_trigger("f").await.unwrap();
    triggers.push_trigger("v").await.unwrap();
    assert_eq!(
        triggers.take_triggers(&["f".to_string()]).await.unwrap(),
        ["f"]
    );
    assert!(
        triggers
            .take_triggers(&["f".to_string()])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        triggers.take_triggers(&["v".to_string()]).await.unwrap(),
        ["v"]
    );

    // Leaving gives every lease up at once.
    store.leave("b").await.unwrap();
    assert!(store.leases().await.unwrap().iter().all(|l| !l.live));
    assert_eq!(store.daemons().await.unwrap().len(), 1);
}

/// Every lifecycle and list of dependencies comes back as recorded, the
/// defaults (which the inventory's read sends as nulls) as much as the
/// others, whole and apart from the map, and `owned` in address order
/// whatever order the rows were written in.
async fn lifecycles_and_dependencies_read_back(url: &str) {
    let store = StateStore::open(url).await.unwrap();
    let parse = |text: &str| Address::parse(text).unwrap();
    let zone = parse("dns/zone/example.org.");
    let lifecycles = [
        Lifecycle::default(),
        Lifecycle {
            protect: true,
            ..Lifecycle::default()
        },
        Lifecycle {
            ignore_changes: vec!["ttl".into(), "records".into()],
            ..Lifecycle::default()
        },
        Lifecycle {
            on_delete: OnDelete::Orphan,
            ..Lifecycle::default()
        },
        Lifecycle {
            adopt: true,
            ..Lifecycle::default()
        },
    ];
    let dependencies = [
        Vec::new(),
        vec![zone.clone()],
        vec![zone.clone(), parse("apps/app/www")],
    ];
    // Written in reverse order, across two providers.
    let written: Vec<(Address, Lifecycle, Vec<Address>)> = (0..30)
        .rev()
        .map(|i| {
            let provider = if i % 2 == 0 { "dns" } else { "apps" };
            (
                parse(&format!("{provider}/thing/t{i:02}")),
                lifecycles[i % lifecycles.len()].clone(),
                dependencies[i % dependencies.len()].clone(),
            )
        })
        .collect();
    let run = store
        .begin_run("lifecycles", RunKind::Apply, &commit("c0ffee"), "sum")
        .await
        .unwrap();
    let rows: Vec<(ActionRecord, InventoryChange)> = written
        .iter()
        .map(|(address, lifecycle, depends_on)| {
            let change = InventoryChange::Own {
                spec_digest: "d".into(),
                state: Some(serde_json::json!({"name": address.id})),
                lifecycle: lifecycle.clone(),
                depends_on: depends_on.clone(),
                pending: false,
                diverged: None,
                recheck: false,
            };
            (record(address, PlanAction::Create), change)
        })
        .collect();
    run.record_all(&rows).await.unwrap();

    let owned = store.owned("lifecycles").await.unwrap();
    let mut in_order: Vec<&Address> = written.iter().map(|(address, ..)| address).collect();
    in_order.sort();
    assert_eq!(
        owned.iter().map(|o| &o.address).collect::<Vec<_>>(),
        in_order
    );
    let inventory = store.inventory("lifecycles").await.unwrap();
    assert_eq!(inventory.owned.len(), written.len());
    for (address, lifecycle, depends_on) in &written {
        let row = &inventory.owned[address];
        assert_eq!(&row.lifecycle, lifecycle, "{address}");
        assert_eq!(&row.depends_on, depends_on, "{address}");
        assert_eq!(owned.iter().find(|o| &o.address == address), Some(row));
    }
}

/// The audit log cannot be changed, only appended to.
async fn audit_is_append_only(url: &str) {
    let store = StateStore::open(url).await.unwrap();
    let commit = commit("c0ffee");
    let address = Address::parse("dns/record/www.example.org./A").unwrap();
    let run = store
        .begin_run("t", RunKind::Apply, &commit, "sum")
        .await
        .unwrap();
    run.record(&record(&address, PlanAction::Create), &own("d"))
        .await
        .unwrap();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for tamper in ["DELETE FROM audit", "UPDATE audit SET action = 'x'"] {
        let error = sqlx::query(tamper).execute(&pool).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{error}");
    }
    assert_eq!(store.history("t", 1).await.unwrap()[0].actions.len(), 1);
}

/// What a release tag named when first read: the first revision recorded
/// stays, for every handle on the store, per repository and tag.
async fn tag_revisions(url: &str) {
    let store = StateStore::open(url).await.unwrap();
    let other = StateStore::open(url).await.unwrap();
    let first = |store: StateStore, repo: &'static str, tag: &'static str, now: &'static str| async move {
        store.first_revision_of_tag(repo, tag, now).await.unwrap()
    };
    assert_eq!(first(store.clone(), "repo", "v1", "aaa").await, "aaa");
    assert_eq!(first(other.clone(), "repo", "v1", "bbb").await, "aaa");
    assert_eq!(first(store.clone(), "repo", "v1", "aaa").await, "aaa");
    assert_eq!(first(other.clone(), "repo", "v2", "bbb").await, "bbb");
    assert_eq!(first(store, "elsewhere", "v1", "ccc").await, "ccc");
}

async fn suite(url: &str) {
    sqlx::any::install_default_drivers();
    inventory_runs_and_audit(url).await;
    lifecycles_and_dependencies_read_back(url).await;
    leases_and_fencing(url).await;
    audit_is_append_only(url).await;
    tag_revisions(url).await;
}

#[tokio::test]
async fn every_query_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!("sqlite:{}", dir.path().join("state.db").display())).await;
}

#[tokio::test]
async fn every_query_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let server = Postgres::start(dir.path());
    suite(&server.url()).await;

    // An unreachable server is a clear error naming it (without a
    // password), never a hang.
    drop(server);
    let started = Instant::now();
    let error = StateStore::open("postgres://cairn:hunter2@127.0.0.1:1/postgres")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("127.0.0.1:1"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    assert!(error.contains("Is PostgreSQL running"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30));
}
