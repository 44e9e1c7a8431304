//! Fencing: a daemon's worker writes for its tenant only while it holds
//! the tenant's lease. The [`Fence`] is the worker's hold (the lease's
//! token, and until when its own clock may count on it); a fenced store
//! checks it, in the same transaction, before every write it makes for the
//! tenant, and plugin calls check it before every request they send.

use super::StateStore;
use super::error::{Result, StoreError};
use sqlx::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A worker's hold on its tenant: the lease's token, and until when this
/// process may count on it by its own monotonic clock (the store's expiry
/// is later: it was computed after the renewal was sent).
#[derive(Debug)]
pub struct Fence {
    /// The tenant.
    pub tenant: String,
    /// The daemon holding it.
    pub holder: String,
    /// The lease's fencing token.
    pub token: i64,
    valid_until: Mutex<Instant>,
    lost: AtomicBool,
}

impl Fence {
    /// A hold on `tenant` with `token`, good until `valid_until`.
    pub fn new(tenant: &str, holder: &str, token: i64, valid_until: Instant) -> Self {
        Self {
            tenant: tenant.to_string(),
            holder: holder.to_string(),
            token,
            valid_until: Mutex::new(valid_until),
            lost: AtomicBool::new(false),
        }
    }

    /// The lease was renewed: good until `until`.
    pub fn extend(&self, until: Instant) {
        let mut valid_until = self.valid_until.lock().expect("fence clock");
        *valid_until = (*valid_until).max(until);
    }

    /// Whether the lease is gone for good (taken over, or given up).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Gives the lease up for good: every later write is refused.
    pub fn lose(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    /// Refuses when the lease is lost or ran out before it was renewed (a
    /// daemon paused, or cut off from the store).
    pub(super) fn check_clock(&self) -> Result<()> {
        if self.is_lost() {
            return Err(self.error("it was taken over or given up"));
        }
        if Instant::now() >= *self.valid_until.lock().expect("fence clock") {
            return Err(self.error("it ran out before it could be renewed"));
        }
        Ok(())
    }

    fn error(&self, reason: &'static str) -> StoreError {
        StoreError::Fenced {
            tenant: self.tenant.clone(),
            token: self.token,
            reason,
        }
    }
}

/// A plugin call of the lease's worker sends a request only while the
/// lease holds by this process's clock: a call under way when the daemon
/// was paused sends nothing once it resumes past its lease.
impl crate::host::SendGuard for Fence {
    fn may_send(&self) -> std::result::Result<(), String> {
        match self.check_clock() {
            Ok(()) => Ok(()),
            Err(StoreError::Fenced { reason, .. }) => Err(format!(
                "this daemon no longer holds the lease of tenant {} (token {}): {reason}; the request was not sent",
                self.tenant, self.token
            )),
            Err(other) => Err(other.to_string()),
        }
    }
}

impl StateStore {
    /// This store, for the worker of the tenant `fence` names: every write
    /// it makes checks the lease first, and the tenant's inventory is kept
    /// in memory while the lease is held, from `keep_inventory_from`
    /// objects ([`StateStore::keeping_inventory`]).
    pub fn fenced(&self, fence: Arc<Fence>, keep_inventory_from: usize) -> Self {
        let tenant = fence.tenant.clone();
        Self {
            fence: Some(fence),
            ..self.keeping_inventory(&tenant, keep_inventory_from)
        }
    }

    /// For a fenced store, what a plugin call that changes the world must
    /// check before each request it sends: that the lease still holds.
    pub fn send_guard(&self) -> Option<Arc<dyn crate::host::SendGuard>> {
        self.fence
            .clone()
            .map(|fence| fence as Arc<dyn crate::host::SendGuard>)
    }

    /// The lease's holder and token, recorded with each run it makes.
    pub(super) fn fence_holder(&self) -> (Option<String>, Option<i64>) {
        match &self.fence {
            Some(fence) => (Some(fence.holder.clone()), Some(fence.token)),
            None => (None, None),
        }
    }

    /// Refuses when a fenced store's lease ran out by this process's
    /// clock: checked again after a write that plugin calls follow at once.
    pub(super) fn check_fence_clock(&self) -> Result<()> {
        match &self.fence {
            Some(fence) => fence.check_clock(),
            None => Ok(()),
        }
    }

    /// A write transaction for a tenant's records. For a fenced store it
    /// starts by checking (and locking, until the commit) the tenant's
    /// lease row: if another daemon took the tenant over, nothing is
    /// written.
    pub(super) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>> {
        self.check_fence_clock()?;
        let mut transaction = self.transaction().await?;
        if let Some(fence) = &self.fence {
            let held = self
                .query("UPDATE leases SET holder = holder WHERE tenant = ? AND holder = ? AND token = ?")
                .bind(fence.tenant.clone())
                .bind(fence.holder.clone())
                .bind(fence.token)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if held == 0 {
                fence.lose();
                return Err(fence.error("another daemon holds it now"));
            }
        }
        Ok(transaction)
    }
}
