//! A condition every outgoing request of a call must meet at the instant
//! it leaves: for an apply, that the daemon still holds the tenant's lease.
//! The store refuses a worker's writes once its lease is gone, but a plugin
//! call already under way when the daemon was paused would otherwise go on
//! to send its changes when it resumes, after another daemon took the
//! tenant over and moved the world on. The gate asks the guard before each
//! request, so such a call can send nothing.

/// Asked by the network gate before each outgoing request of a call.
pub trait SendGuard: Send + Sync {
    /// `Err` with the reason when the call may no longer send anything.
    fn may_send(&self) -> Result<(), String>;
}
