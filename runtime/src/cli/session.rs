//! What every tenant command opens: the operator's configuration, the state
//! store, the plugin host and the tenant's providers.

use super::Target;
use super::render;
use anyhow::Context;
use cairn::config::Config;
use cairn::host::PluginHost;
use cairn::store::StateStore;
use cairn::tenant::Tenant;
use cairn::tenant_lock::{LockMode, TenantLock, TenantLocks};
use std::time::Duration;

/// How long a command waits for another process's reconcile of the tenant.
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// An open tenant with its store.
pub struct Session {
    /// The tenant.
    pub tenant: Tenant,
    /// The state store.
    pub store: StateStore,
    /// Keeps the plugin host (and its epoch ticker) alive.
    _host: PluginHost,
}

impl Session {
    /// Opens what `target` names.
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        let config = Config::load(&target.config)?;
        let tenant_config = config.tenant(target.tenant.as_deref())?;
        render::progress(&format!(
            "loading {} provider plugin(s)",
            tenant_config.providers.len()
        ));
        let host = PluginHost::new(Some(cairn::tenant::compiled_cache(&config)?))?;
        let store = StateStore::open(&config.state)
            .await
            .with_context(|| format!("the state store of {}", target.config.display()))?;
        let tenant = Tenant::open(&config, tenant_config, &host, &store).await?;
        Ok(Self {
            tenant,
            store,
            _host: host,
        })
    }

    /// Takes the tenant's lock, so that no daemon reconciles it meanwhile;
    /// waits for a reconcile in progress to finish. Runs that an earlier
    /// process left unfinished are then recorded as interrupted.
    pub async fn lock(&self) -> anyhow::Result<TenantLock> {
        let name = &self.tenant.name;
        let locks = TenantLocks::of_store(&self.store);
        let lock = match locks
            .lock(name, LockMode::Exclusive, Duration::ZERO)
            .await?
        {
            Some(lock) => lock,
            None => {
                render::progress(&format!(
                    "waiting for another cairn process (the daemon?) to finish with tenant {name}"
                ));
                locks.lock(name, LockMode::Exclusive, LOCK_WAIT).await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "tenant {name} stayed busy in another cairn process for {LOCK_WAIT:?}; nothing was applied"
                    )
                })?
            }
        };
        // Daemons on other hosts are not kept out by the file lock: on a
        // shared store, a tenant a daemon reconciles is left to it.
        if self.store.dialect() == cairn::store::dialect::Dialect::Postgres
            && !self.store.tenant_state(name).await?.suspended
            && let Some(lease) = self
                .store
                .leases()
                .await?
                .into_iter()
                .find(|lease| lease.tenant == *name && lease.live)
        {
            anyhow::bail!(
                "tenant {name} is reconciled by daemon {} (lease token {}); nothing was applied. Push the change to Git for it to apply, or `cairn suspend {name}` first to apply by hand",
                lease.holder,
                lease.token
            );
        }
        self.store.close_interrupted_runs(name).await?;
        Ok(lock)
    }
}
