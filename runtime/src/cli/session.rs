//! What every tenant command opens: the operator's configuration, the state
//! store, the plugin host and the tenant's providers.

use super::Target;
use super::render;
use anyhow::Context;
use cairn::config::Config;
use cairn::host::PluginHost;
use cairn::store::StateStore;
use cairn::tenant::Tenant;

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
        let host = PluginHost::new(Some(config.cache_dir.join("compiled")))?;
        let tenant = Tenant::open(&config, tenant_config, &host).await?;
        let store = StateStore::open(&config.state)
            .await
            .with_context(|| format!("the state store of {}", target.config.display()))?;
        Ok(Self {
            tenant,
            store,
            _host: host,
        })
    }
}
