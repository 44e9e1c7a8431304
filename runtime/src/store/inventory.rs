//! The inventory: every object a tenant owns, with the spec and state of
//! its last apply. It changes only together with the action that changed
//! it ([`super::RunRecorder`]), or when creates are marked pending before
//! they are attempted.

use super::dialect::Dialect;
use super::error::{Result, StoreError};
use super::verdicts::{Verdict, Verdicts};
use super::{StateStore, batch, mirror};
use crate::model::{Address, AddressMap, DesiredResource, Lifecycle};
use crate::source::CommitInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use std::sync::Arc;
use tokio_util::task::AbortOnDropHandle;

/// What the store says of a tenant's objects.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The objects Cairn owns (or started to create), by address.
    pub owned: AddressMap<OwnedResource>,
    /// Changes a crash interrupted, with the run that sent them: their
    /// outcome is found out by the plan.
    pub interrupted: AddressMap<i64>,
    /// The version of the store this is, when it is a kept copy
    /// ([`StateStore::keeping_inventory`]) in step with it.
    pub(super) kept_at: Option<i64>,
    /// What plans found of desired resources against a kept copy. A clone
    /// shares it (the mirror copies a kept inventory that a plan still
    /// holds before a write, and the memo goes on with the new copy): a
    /// kept copy changes only through the mirror's writes, which keep the
    /// memo in step.
    pub(super) verdicts: Verdicts,
}

/// Two inventories are equal when they hold the same objects and journal.
impl PartialEq for Inventory {
    fn eq(&self, other: &Self) -> bool {
        self.owned == other.owned && self.interrupted == other.interrupted
    }
}

impl Inventory {
    /// Reads `tenant`'s inventory and journal ([`StateStore::inventory`]).
    pub async fn read(store: &StateStore, tenant: &str) -> Result<Arc<Self>> {
        store.inventory(tenant).await
    }

    /// [`Inventory::read`] as a task of its own, for a caller that works
    /// meanwhile (a plan reads the inventory while its commit loads): the
    /// read goes on while the caller's task computes, where beside it in
    /// the same task (`join!`) it would wait for the caller's next pause to
    /// hand its rows to the decoder. Dropping the future stops the read.
    pub fn read_apart(
        store: &StateStore,
        tenant: &str,
    ) -> impl Future<Output = Result<Arc<Self>>> + use<> {
        let (store, tenant) = (store.clone(), tenant.to_string());
        let read =
            AbortOnDropHandle::new(tokio::spawn(async move { store.inventory(&tenant).await }));
        async move {
            // The task is aborted only when this future is dropped (or with
            // its runtime, which then polls nothing more): its only failure
            // seen here is its panic, passed on.
            match read.await {
                Ok(read) => read,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
    }

    /// What each of `resources` is against this inventory, as `judge`
    /// says: judged afresh, or, against a kept copy, remembered from an
    /// earlier call when neither the resource nor its row and journal
    /// entry changed since ([`super::verdicts`]). `judge` must look only at
    /// the resource and at this inventory's row and journal entry at its
    /// address.
    pub fn verdicts(
        &self,
        resources: &[Arc<DesiredResource>],
        judge: impl Fn(&DesiredResource) -> Verdict,
    ) -> Vec<Verdict> {
        self.verdicts.of(self.kept_at, resources, judge)
    }
}

/// An object Cairn owns, as the inventory records it.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedResource {
    /// Its address.
    pub address: Address,
    /// sha256 of the canonical spec last applied.
    pub spec_digest: String,
    /// The state the provider returned after the last apply, as the
    /// canonical JSON text the inventory holds ([`OwnedResource::state_value`]
    /// builds the value): a plan that finds an object as the last apply
    /// left it compares texts, and builds no value.
    pub state: Option<String>,
    /// Its lifecycle flags at the last apply.
    pub lifecycle: Lifecycle,
    /// What it depended on at the last apply.
    pub depends_on: Vec<Address>,
    /// The commit of the last apply.
    pub commit_id: String,
    /// Whether a create was started but not confirmed: in flight, cut
    /// short, or failed in a way that may have made part of the object.
    pub pending: bool,
    /// Set when its provider did not converge after its last apply.
    pub diverged: Option<Divergence>,
    /// Its provider asked, with its last recorded change, to compare it
    /// again over time (`recheck-after`): every plan compares it.
    pub recheck: bool,
}

impl OwnedResource {
    /// The state the provider returned after the last apply.
    pub fn state_value(&self) -> Result<Option<Value>> {
        self.state
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|error| StoreError::corrupt(format!("the state of {}", self.address), error))
    }
}

/// A provider that did not converge on an object: after the apply, its
/// own comparison of the spec applied with what it observed (or what the
/// apply returned) still found a difference. The object is held — no
/// change is planned for it — while Git's spec and the plugin are those
/// of that apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// The sha256 of the plugin that did not converge.
    pub plugin: String,
    /// What differed, for people: `provider `dns` did not converge on …`.
    pub reason: String,
}

/// What an action does to the inventory.
#[derive(Debug, Clone)]
pub enum InventoryChange {
    /// Record the object as owned, with its new state.
    Own {
        /// sha256 of the canonical spec applied.
        spec_digest: String,
        /// The provider's state.
        state: Option<Value>,
        /// The lifecycle flags.
        lifecycle: Lifecycle,
        /// Its dependencies.
        depends_on: Vec<Address>,
        /// Whether the create is still unconfirmed.
        pending: bool,
        /// Set when the provider did not converge: the object is owned,
        /// and held.
        diverged: Option<Divergence>,
        /// The provider asked to compare it again over time.
        recheck: bool,
    },
    /// Forget the object (deleted, or orphaned).
    Forget,
    /// Forget the object if it is only pending: a create that certainly
    /// did not happen.
    DropPending,
    /// Leave the inventory as it is.
    Keep,
    /// Leave the inventory as it is and keep the change's journal entry:
    /// whether it happened is unknown (the plugin call broke).
    Unknown,
}

impl StateStore {
    /// `tenant`'s inventory and journal. A store that keeps the tenant's
    /// inventory in memory ([`StateStore::keeping_inventory`]) reads only
    /// the inventory's version when nothing wrote it since the copy was
    /// taken or kept in step.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn inventory(&self, tenant: &str) -> Result<Arc<Inventory>> {
        let Some(mirror) = self.mirror_of(tenant) else {
            return Ok(Arc::new(self.read_inventory(tenant).await?));
        };
        // The version first: the rows read after it are at least as new,
        // so a write in between makes the copy look older than it is (and
        // read again next time), never newer.
        let version = self.inventory_version(tenant).await?;
        if let Some(kept) = mirror.at(version) {
            #[cfg(debug_assertions)]
            self.check_kept(tenant, version, &kept).await?;
            return Ok(kept);
        }
        Ok(mirror.keep(version, self.read_inventory(tenant).await?))
    }

    /// `tenant`'s inventory and journal, as the store holds them now. A
    /// large inventory is decoded on the blocking pool, so that a commit
    /// loading beside the read (as plans load it) gets the other core.
    pub(super) async fn read_inventory(&self, tenant: &str) -> Result<Inventory> {
        let document = self.owned_document(tenant).await?;
        let apart = document.len() >= DECODE_APART_FROM;
        let by_address = {
            let tenant = tenant.to_string();
            move || -> Result<AddressMap<OwnedResource>> {
                Ok(decode_owned(&tenant, &document)?
                    .into_iter()
                    .map(|resource| (resource.address.clone(), resource))
                    .collect())
            }
        };
        let owned = if apart {
            // A blocking task is never aborted once started: its only
            // failure is its panic, passed on.
            match tokio::task::spawn_blocking(by_address).await {
                Ok(decoded) => decoded?,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        } else {
            by_address()?
        };
        let interrupted = self
            .intents(tenant)
            .await?
            .into_iter()
            .map(|intent| (intent.address, intent.run_id))
            .collect();
        Ok(Inventory {
            owned,
            interrupted,
            ..Inventory::default()
        })
    }

    /// Every object the tenant owns, in address order.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn owned(&self, tenant: &str) -> Result<Vec<OwnedResource>> {
        let mut owned = decode_owned(tenant, &self.owned_document(tenant).await?)?;
        owned.sort_unstable_by(|a, b| a.address.cmp(&b.address));
        Ok(owned)
    }

    /// The inventory's rows as one JSON document ([`decode_owned`] reads
    /// it), in no particular order.
    pub(super) async fn owned_document(&self, tenant: &str) -> Result<String> {
        // One JSON document for the whole inventory: the engine builds it in
        // one step, where fetching ten thousand rows one by one costs ten
        // times as much. States stay the texts they are stored as (JSON
        // strings in the document): most plans only compare them. The
        // lifecycle and dependencies most objects have (the defaults, none)
        // are compared as texts and sent as nulls instead of parsed and
        // written out again: that halves the engine's work for ten
        // thousand rows. The rows are not sorted: the inventory is read into
        // a map.
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT json_group_array(json_array(
                     address, spec_digest, state,
                     CASE lifecycle WHEN ? THEN NULL ELSE json(lifecycle) END,
                     CASE depends_on WHEN '[]' THEN NULL ELSE json(depends_on) END,
                     commit_id, pending, json(diverged), recheck))
                 FROM resources WHERE tenant = ?"
            }
            Dialect::Postgres => {
                "SELECT CAST(COALESCE(json_agg(json_build_array(
                     address, spec_digest, state,
                     CASE lifecycle WHEN ? THEN NULL ELSE CAST(lifecycle AS json) END,
                     CASE depends_on WHEN '[]' THEN NULL ELSE CAST(depends_on AS json) END,
                     commit_id, pending, CAST(diverged AS json), recheck)),
                     '[]') AS text)
                 FROM resources WHERE tenant = ?"
            }
        };
        Ok(self
            .query(sql)
            .bind(to_json(&Lifecycle::default()))
            .bind(tenant.to_string())
            .fetch_one(&mut *self.connection().await?)
            .await?
            .try_get(0)?)
    }

    /// Marks creates as in flight before they are attempted, so that an
    /// object whose create was interrupted is still known to be ours.
    pub(super) async fn mark_pending(
        &self,
        tenant: &str,
        commit: &CommitInfo,
        creates: &[(&Address, &Lifecycle, &[Address])],
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        batch::mark_pending(self, &mut transaction, tenant, commit, creates).await?;
        let version = batch::next_inventory_version(self, &mut transaction, tenant).await?;
        transaction.commit().await?;
        self.follow_inventory(tenant, version, |inventory| {
            mirror::mark_pending(inventory, tenant, commit, creates)
        });
        Ok(())
    }
}

/// Inventories from this size of document (bytes; about 1,000 objects)
/// are decoded on the blocking pool: decoding one takes milliseconds,
/// against tens of microseconds for the hand-off.
pub(super) const DECODE_APART_FROM: usize = 256 * 1024;

/// `tenant`'s rows, as [`StateStore::owned_document`] wrote them.
fn decode_owned(tenant: &str, document: &str) -> Result<Vec<OwnedResource>> {
    type Row = (
        Address,
        String,
        Option<String>,
        Option<Lifecycle>,
        Option<Vec<Address>>,
        String,
        i64,
        Option<Divergence>,
        i64,
    );
    let rows: Vec<Row> = serde_json::from_str(document)
        .map_err(|error| StoreError::corrupt(format!("the inventory of {tenant}"), error))?;
    Ok(rows
        .into_iter()
        .map(
            |(
                address,
                spec_digest,
                state,
                lifecycle,
                depends_on,
                commit_id,
                pending,
                diverged,
                recheck,
            )| OwnedResource {
                address,
                spec_digest,
                state,
                lifecycle: lifecycle.unwrap_or_default(),
                depends_on: depends_on.unwrap_or_default(),
                commit_id,
                pending: pending != 0,
                diverged,
                recheck: recheck != 0,
            },
        )
        .collect())
}

/// `value` as the JSON the inventory's columns hold.
pub(super) fn to_json(value: &(impl serde::Serialize + ?Sized)) -> String {
    serde_json::to_string(value).expect("inventory values serialize")
}
