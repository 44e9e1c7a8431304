//! The copy a worker keeps against what the store reads, after every kind
//! of write, and when someone else writes in between.

use super::DEFAULT_KEEP_INVENTORY_FROM;
use crate::model::diagnostic::Location;
use crate::model::{Address, DesiredResource, Lifecycle, Spec};
use crate::plan::PlanAction;
use crate::source::CommitInfo;
use crate::store::tests::store;
use crate::store::{
    ActionRecord, ActionResult, Divergence, DriftRecord, Inventory, InventoryChange,
    ResourceStatus, RunKind, StateStore, Verdict,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TENANT: &str = "t";

fn commit(id: &str) -> CommitInfo {
    CommitInfo {
        id: id.into(),
        author: "Ada <ada@example.org>".into(),
        summary: "records".into(),
        time: 0,
    }
}

/// Enough addresses for the inventory to be kept, with a few to spare
/// for those the tests delete.
fn addresses() -> Vec<Address> {
    (0..DEFAULT_KEEP_INVENTORY_FROM + 10)
        .map(|n| Address::parse(&format!("dns/record/r{n}.example.org./A")).unwrap())
        .collect()
}

fn action(address: &Address, result: ActionResult) -> ActionRecord<'_> {
    ActionRecord {
        address,
        action: PlanAction::Create,
        before_digest: None,
        after_digest: Some("after".into()),
        result,
        error: None,
        summary: None,
        duration: Duration::from_millis(1),
    }
}

fn own(ttl: u32, diverged: Option<Divergence>) -> InventoryChange {
    InventoryChange::Own {
        spec_digest: format!("spec-{ttl}"),
        state: Some(serde_json::json!({"ttl": ttl, "records": ["192.0.2.1"]})),
        lifecycle: Lifecycle::default(),
        depends_on: Vec::new(),
        pending: false,
        diverged,
        recheck: ttl.is_multiple_of(2),
    }
}

/// The copy `kept` holds is the store's version now (it followed the
/// last write rather than being dropped), and it is what the store reads.
async fn assert_kept_in_step(kept: &StateStore, plain: &StateStore, after: &str) {
    let version = plain.inventory_version(TENANT).await.unwrap();
    let mirror = kept.mirror_of(TENANT).expect("a kept inventory");
    let copy = mirror
        .at(version)
        .unwrap_or_else(|| panic!("after {after}, the copy did not follow to version {version}"));
    let read = plain.read_inventory(TENANT).await.unwrap();
    assert_eq!(
        *copy, read,
        "after {after}, the copy is not what the store holds"
    );
    assert!(
        std::sync::Arc::ptr_eq(&kept.inventory(TENANT).await.unwrap(), &copy),
        "after {after}, the plan's inventory is not the copy"
    );
}

#[tokio::test]
async fn the_kept_inventory_follows_every_kind_of_write() {
    let (plain, _dir) = store().await;
    let kept = plain.keeping_inventory(TENANT, DEFAULT_KEEP_INVENTORY_FROM);
    let addresses = addresses();
    let (first, second, third, fourth) =
        (&addresses[0], &addresses[1], &addresses[2], &addresses[3]);
    let lifecycle = Lifecycle::default();

    // An empty inventory is read, and too small to keep.
    assert!(kept.inventory(TENANT).await.unwrap().owned.is_empty());
    let run = kept
        .begin_run(TENANT, RunKind::Apply, &commit("c1"), "sum")
        .await
        .unwrap();
    let creates: Vec<(&Address, &Lifecycle, &[Address])> = addresses
        .iter()
        .map(|address| (address, &lifecycle, &[][..]))
        .collect();
    // A first write with no copy yet: the copy is read, then kept.
    run.mark_pending(&creates).await.unwrap();
    kept.inventory(TENANT).await.unwrap();
    let intents: Vec<(&Address, PlanAction, Option<&str>)> = addresses
        .iter()
        .map(|address| (address, PlanAction::Create, Some("spec")))
        .collect();
    run.journal(&intents).await.unwrap();
    assert_kept_in_step(&kept, &plain, "a journal").await;

    let diverged = Divergence {
        plugin: "abc".into(),
        reason: "did not converge".into(),
    };
    let owned: Vec<(ActionRecord, InventoryChange)> = addresses[4..]
        .iter()
        .enumerate()
        .map(|(n, address)| {
            let change = own(300 + n as u32, (n == 0).then(|| diverged.clone()));
            (action(address, ActionResult::Ok), change)
        })
        .collect();
    run.record_all(&owned).await.unwrap();
    assert_kept_in_step(&kept, &plain, "owned objects").await;

    run.record_all(&[
        // Failed, outcome unknown: the journal entry stays.
        (
            action(first, ActionResult::Failed),
            InventoryChange::Unknown,
        ),
        // Certainly not made: dropped, with its journal entry.
        (
            action(second, ActionResult::Failed),
            InventoryChange::DropPending,
        ),
        // Failed, left as it was.
        (action(third, ActionResult::Failed), InventoryChange::Keep),
        // Deleted.
        (action(fourth, ActionResult::Ok), InventoryChange::Forget),
        // Owned, not pending: a DropPending leaves it.
        (
            action(&addresses[5], ActionResult::Failed),
            InventoryChange::DropPending,
        ),
    ])
    .await
    .unwrap();
    assert_kept_in_step(&kept, &plain, "failures, a drop and a delete").await;

    run.record_drift(&[DriftRecord {
        address: &addresses[6],
        desired_digest: None,
        observed_digest: None,
        message: "ttl differs".into(),
    }])
    .await
    .unwrap();
    assert_kept_in_step(&kept, &plain, "drift").await;

    kept.set_statuses(TENANT, &[(&addresses[4], ResourceStatus::InSync, None)])
        .await
        .unwrap();
    assert_kept_in_step(&kept, &plain, "a status that ends a hold").await;
    let inventory = kept.inventory(TENANT).await.unwrap();
    assert_eq!(inventory.owned[&addresses[4]].diverged, None);
    assert!(inventory.interrupted.contains_key(first));
    assert!(!inventory.owned.contains_key(second) && !inventory.owned.contains_key(fourth));
    assert!(inventory.owned[third].pending);
    assert!(!inventory.owned[&addresses[5]].pending);
}

#[tokio::test]
async fn a_write_by_anyone_else_drops_the_kept_inventory() {
    let (plain, _dir) = store().await;
    let kept = plain.keeping_inventory(TENANT, DEFAULT_KEEP_INVENTORY_FROM);
    let addresses = addresses();
    let owned: Vec<(ActionRecord, InventoryChange)> = addresses
        .iter()
        .map(|address| (action(address, ActionResult::Ok), own(300, None)))
        .collect();
    let run = kept
        .begin_run(TENANT, RunKind::Apply, &commit("c1"), "sum")
        .await
        .unwrap();
    run.record_all(&owned).await.unwrap();
    assert_eq!(
        kept.inventory(TENANT).await.unwrap().owned.len(),
        addresses.len()
    );

    // Another process (a CLI apply between the daemon's runs) deletes one.
    let other = plain
        .begin_run(TENANT, RunKind::Apply, &commit("c2"), "sum")
        .await
        .unwrap();
    other
        .record(
            &action(&addresses[0], ActionResult::Ok),
            &InventoryChange::Forget,
        )
        .await
        .unwrap();
    let seen = kept.inventory(TENANT).await.unwrap();
    assert!(
        !seen.owned.contains_key(&addresses[0]),
        "the copy hid another's delete"
    );

    // Another's write, then the worker's own: the worker's is not applied
    // to a copy that missed the other.
    let held = kept.inventory(TENANT).await.unwrap();
    drop(held);
    other
        .record(
            &action(&addresses[1], ActionResult::Ok),
            &InventoryChange::Forget,
        )
        .await
        .unwrap();
    run.record(
        &action(&addresses[2], ActionResult::Ok),
        &InventoryChange::Forget,
    )
    .await
    .unwrap();
    let seen = kept.inventory(TENANT).await.unwrap();
    assert_eq!(*seen, plain.read_inventory(TENANT).await.unwrap());
    assert!(!seen.owned.contains_key(&addresses[1]) && !seen.owned.contains_key(&addresses[2]));
}

#[tokio::test]
async fn a_small_inventory_is_read_each_time_and_not_kept() {
    let (plain, _dir) = store().await;
    let kept = plain.keeping_inventory(TENANT, DEFAULT_KEEP_INVENTORY_FROM);
    let address = &addresses()[0];
    let run = kept
        .begin_run(TENANT, RunKind::Apply, &commit("c1"), "sum")
        .await
        .unwrap();
    run.record(&action(address, ActionResult::Ok), &own(300, None))
        .await
        .unwrap();
    assert_eq!(kept.inventory(TENANT).await.unwrap().owned.len(), 1);
    let version = plain.inventory_version(TENANT).await.unwrap();
    assert!(kept.mirror_of(TENANT).unwrap().at(version).is_none());
}

#[tokio::test]
async fn every_write_of_the_inventory_counts_a_version() {
    let (store, _dir) = store().await;
    let address = &addresses()[0];
    let lifecycle = Lifecycle::default();
    assert_eq!(store.inventory_version(TENANT).await.unwrap(), 0);
    let run = store
        .begin_run(TENANT, RunKind::Apply, &commit("c1"), "sum")
        .await
        .unwrap();
    run.mark_pending(&[(address, &lifecycle, &[])])
        .await
        .unwrap();
    run.journal(&[(address, PlanAction::Create, None)])
        .await
        .unwrap();
    run.record(&action(address, ActionResult::Ok), &own(300, None))
        .await
        .unwrap();
    store
        .set_statuses(TENANT, &[(address, ResourceStatus::InSync, None)])
        .await
        .unwrap();
    assert_eq!(store.inventory_version(TENANT).await.unwrap(), 4);
    assert_eq!(store.inventory_version("other").await.unwrap(), 0);
}

/// Debug builds check the copy against the store on each use: a copy that
/// missed a write fails the plan instead of being planned from.
#[cfg(debug_assertions)]
#[tokio::test]
async fn a_copy_that_disagrees_with_the_store_fails_the_read() {
    let (plain, _dir) = store().await;
    let kept = plain.keeping_inventory(TENANT, 1);
    let addresses = addresses();
    let lifecycle = Lifecycle::default();
    let creates: Vec<(&Address, &Lifecycle, &[Address])> = addresses[..3]
        .iter()
        .map(|address| (address, &lifecycle, &[][..]))
        .collect();
    let run = kept
        .begin_run(TENANT, RunKind::Apply, &commit("c1"), "sum")
        .await
        .unwrap();
    run.mark_pending(&creates).await.unwrap();
    // Read and kept; read again, the copy agrees.
    kept.inventory(TENANT).await.unwrap();
    assert_eq!(kept.inventory(TENANT).await.unwrap().owned.len(), 3);

    // A write that bypasses the store's writes (and its version): only a
    // defect could do this, and the copy no longer agrees.
    plain
        .query("DELETE FROM resources WHERE tenant = ? AND address = ?")
        .bind(TENANT.to_string())
        .bind(addresses[0].to_string())
        .execute(&mut *plain.connection().await.unwrap())
        .await
        .unwrap();
    let error = kept.inventory(TENANT).await.unwrap_err();
    assert!(
        matches!(
            error,
            crate::store::StoreError::KeptInventoryDisagrees { .. }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains(&addresses[0].to_string()),
        "{error}"
    );
}

/// A desired resource at `address` whose spec holds `n`.
fn desired(address: &Address, n: usize) -> Arc<DesiredResource> {
    Arc::new(DesiredResource {
        address: address.clone(),
        spec: Spec::new(&serde_json::json!({ "n": n })),
        depends_on: Vec::new(),
        lifecycle: Lifecycle::default(),
        origin: Location {
            file: "records.toml".into(),
            line: n + 1,
            column: 1,
        },
    })
}

/// Owned as `resource`'s spec was last applied.
fn applied(resource: &DesiredResource) -> InventoryChange {
    InventoryChange::Own {
        spec_digest: resource.spec.digest().to_string(),
        state: None,
        lifecycle: Lifecycle::default(),
        depends_on: Vec::new(),
        pending: false,
        diverged: None,
        recheck: false,
    }
}

/// The planner's question, asked of `inventory`'s row and journal entry
/// at the resource's address only.
fn judge(resource: &DesiredResource, inventory: &Inventory) -> Verdict {
    let owned = inventory.owned.get(&resource.address);
    Verdict {
        owned: owned.is_some(),
        settled: owned
            .is_some_and(|o| !o.pending && !o.recheck && o.spec_digest == resource.spec.digest())
            && !inventory.interrupted.contains_key(&resource.address),
    }
}

/// The verdicts of `resources` against the worker's inventory must be
/// those judged against what the store reads; returns how many the
/// worker's call judged (the others were remembered).
async fn judged_in_step(
    kept: &StateStore,
    plain: &StateStore,
    resources: &[Arc<DesiredResource>],
    after: &str,
) -> usize {
    let inventory = kept.inventory(TENANT).await.unwrap();
    let judged = AtomicUsize::new(0);
    let verdicts = inventory.verdicts(resources, |resource| {
        judged.fetch_add(1, Ordering::Relaxed);
        judge(resource, &inventory)
    });
    let stored = plain.read_inventory(TENANT).await.unwrap();
    let expected: Vec<Verdict> = resources.iter().map(|r| judge(r, &stored)).collect();
    assert_eq!(verdicts, expected, "after {after}, a verdict is stale");
    judged.into_inner()
}

/// A daemon's plans judge each desired resource against the kept
/// inventory once: after each kind of write, only the resources at the
/// addresses it touched are judged again, and a resource that changed;
/// a write by anyone else makes every one judged again. Every verdict is
/// the one judged against what the store holds.
#[tokio::test]
async fn verdicts_are_remembered_until_a_write_touches_their_address() {
    let (plain, _dir) = store().await;
    let kept = plain.keeping_inventory(TENANT, DEFAULT_KEEP_INVENTORY_FROM);
    let addresses = addresses();
    let mut resources: Vec<Arc<DesiredResource>> = addresses
        .iter()
        .enumerate()
        .map(|(n, address)| desired(address, n))
        .collect();
    let run = kept
        .begin_run(TENANT, RunKind::Apply, &commit("c1"), "sum")
        .await
        .unwrap();
    let owned: Vec<(ActionRecord, InventoryChange)> = resources
        .iter()
        .map(|r| (action(&r.address, ActionResult::Ok), applied(r)))
        .collect();
    run.record_all(&owned).await.unwrap();
    let all = resources.len();
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "the first apply").await,
        all
    );
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "nothing").await,
        0
    );

    // Creates marked pending (of objects owned already: nothing moves,
    // but their rows were written).
    let lifecycle = Lifecycle::default();
    run.mark_pending(&[
        (&addresses[0], &lifecycle, &[]),
        (&addresses[1], &lifecycle, &[]),
    ])
    .await
    .unwrap();
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "pending marks").await,
        2
    );

    // A change journaled: it is no longer settled until its outcome is.
    run.journal(&[(&addresses[2], PlanAction::Update, Some("spec"))])
        .await
        .unwrap();
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "a journal").await,
        1
    );

    // Outcomes: unknown (the journal stays), deleted, a new spec applied,
    // a failure that leaves the row.
    let changed = desired(&addresses[5], 5_000);
    run.record_all(&[
        (
            action(&addresses[2], ActionResult::Failed),
            InventoryChange::Unknown,
        ),
        (
            action(&addresses[3], ActionResult::Ok),
            InventoryChange::Forget,
        ),
        (action(&addresses[5], ActionResult::Ok), applied(&changed)),
        (
            action(&addresses[6], ActionResult::Failed),
            InventoryChange::Keep,
        ),
    ])
    .await
    .unwrap();
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "outcomes").await,
        4
    );

    // A status that ends a hold.
    kept.set_statuses(TENANT, &[(&addresses[7], ResourceStatus::InSync, None)])
        .await
        .unwrap();
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "a status").await,
        1
    );

    // The commit changes a resource: the new one is judged, and is the
    // one remembered at its address.
    resources[5] = changed;
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "a new spec").await,
        1
    );
    let inventory = kept.inventory(TENANT).await.unwrap();
    assert_eq!(inventory.verdicts.remembered(), all);

    // A plan still holds the copy when a write comes (the copy is copied
    // before the write): what it asks is judged against what it holds,
    // and the new copy's verdicts are not taken from it.
    let held = inventory;
    run.journal(&[(&addresses[9], PlanAction::Update, Some("spec"))])
        .await
        .unwrap();
    let expected: Vec<Verdict> = resources.iter().map(|r| judge(r, &held)).collect();
    assert_eq!(held.verdicts(&resources, |r| judge(r, &held)), expected);
    judged_in_step(
        &kept,
        &plain,
        &resources,
        "a journal while a plan held the copy",
    )
    .await;
    drop(held);

    // Someone else writes: the copy is read again, and every resource
    // judged.
    plain
        .begin_run(TENANT, RunKind::Apply, &commit("c2"), "sum")
        .await
        .unwrap()
        .record(
            &action(&addresses[8], ActionResult::Ok),
            &InventoryChange::Forget,
        )
        .await
        .unwrap();
    assert_eq!(
        judged_in_step(&kept, &plain, &resources, "another's write").await,
        all
    );
}
