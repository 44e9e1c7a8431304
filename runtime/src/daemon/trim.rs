//! Handing freed memory back to the system. A reconcile that applied
//! thousands of changes frees what it allocated, but glibc keeps freed
//! pages in its heaps; a daemon that then idles for hours would hold the
//! peak of its busiest minute. Trimming now and then returns them.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often freed memory is returned: rarely enough that the trims do
/// not show in the idle daemon's CPU, often enough that a burst of work is
/// not held for long.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(30);

/// Trims the allocator's heaps every [`TRIM_INTERVAL`] until `shutdown`.
pub async fn return_freed_memory(shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(TRIM_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free memory at the allocator's
    // discretion; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
