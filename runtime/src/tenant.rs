//! A tenant ready to work: its repository source and its provider instances,
//! with the plugins loaded and bound to the operator's settings.

use crate::config::{Config, ProviderConfig, TenantConfig};
use crate::host::{
    CacheKeyError, CompiledCache, PluginError, PluginHost, ProviderInstance, ProviderSettings,
};
use crate::model::{DesiredState, LoadError, ModelCache};
use crate::policy::{Policies, PolicyLoadError};
use crate::source::{ReadPolicy, Source};
use crate::store::StateStore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A tenant's source and providers.
#[derive(Debug)]
pub struct Tenant {
    /// The tenant's name.
    pub name: String,
    /// The operator's settings for it.
    pub config: TenantConfig,
    /// Where its desired state comes from.
    pub source: Source,
    /// Its provider instances, by name.
    pub providers: BTreeMap<String, Arc<ProviderInstance>>,
    /// What each file of the last loaded commit contributed.
    pub model_cache: ModelCache,
    /// The policies that check its plans.
    pub policies: Policies,
}

impl Tenant {
    /// The spec of `resource` as it may be shown outside the host (to a
    /// policy, on the dashboard): the values of its type's sensitive
    /// fields withheld.
    pub fn shown_spec(&self, resource: &crate::model::DesiredResource) -> serde_json::Value {
        let address = &resource.address;
        let sensitive = self
            .providers
            .get(&address.provider)
            .and_then(|provider| {
                provider
                    .info()
                    .resource_types
                    .iter()
                    .find(|t| t.name == address.type_name)
            })
            .map(|t| t.sensitive.as_slice())
            .unwrap_or_default();
        match sensitive.is_empty() {
            true => resource.spec.value(),
            false => crate::plan::withhold_top_level(&resource.spec.value(), sensitive),
        }
    }

    /// Reads the commit (`None`: the ref's, after a fetch) and loads its
    /// desired state within the tenant's quotas, parsing and validating
    /// only the files the model cache does not know.
    pub async fn desired_state(&self, commit: Option<&str>) -> Result<DesiredState, LoadError> {
        let snapshot = match commit {
            Some(commit) => self.source.snapshot_at(commit).await?,
            None => self.source.snapshot().await?,
        };
        self.model_cache
            .load(&snapshot, &self.providers, &self.config.quotas)
            .await
    }
}

/// The name a chaos provider gives itself in `describe`: a tenant loads
/// one only with `chaos = true`. (A plugin by another name that holds the
/// tenant's resources is stopped at plan time without it, too.)
pub const CHAOS_PROVIDER: &str = "chaos";

/// A provider instance of a tenant could not be set up. It stops that
/// tenant alone: the others load and run.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Its plugin could not be loaded.
    #[error("provider `{provider}` of tenant `{tenant}`: {source}")]
    Plugin {
        /// The tenant.
        tenant: String,
        /// The provider instance.
        provider: String,
        /// Why.
        #[source]
        source: PluginError,
    },
    /// Its `config` does not match the config schema of its plugin.
    #[error(
        "[tenants.{tenant}.providers.{provider}] config does not match what its plugin accepts: {}; `cairn plugin inspect --json PLUGIN` shows the plugin's config schema",
        .problems.join("; ")
    )]
    Config {
        /// The tenant.
        tenant: String,
        /// The provider instance.
        provider: String,
        /// Each problem, led by its key (`config.url: …`).
        problems: Vec<String>,
    },
    /// One of its policies could not be set up.
    #[error("tenant `{tenant}`: {source}")]
    Policy {
        /// The tenant.
        tenant: String,
        /// Why.
        #[source]
        source: PolicyLoadError,
    },
    /// Its plugin runs chaos experiments, and the operator has not turned
    /// them on for the tenant.
    #[error(
        "[tenants.{tenant}.providers.{provider}] is a chaos provider ({plugin}), and chaos experiments are off for tenant `{tenant}`: the operator turns them on with `chaos = true` in [tenants.{tenant}]"
    )]
    ChaosOff {
        /// The tenant.
        tenant: String,
        /// The provider instance.
        provider: String,
        /// The plugin's file.
        plugin: String,
    },
    /// The operator gave it more memory than the tenant's quota allows.
    #[error(
        "[tenants.{tenant}.providers.{provider}] memory is {} MiB, more than the tenant's quotas.plugin_memory ({} MiB): lower it or raise the quota",
        .memory >> 20,
        .quota >> 20
    )]
    MemoryOverQuota {
        /// The tenant.
        tenant: String,
        /// The provider instance.
        provider: String,
        /// Its `memory`, in bytes.
        memory: u64,
        /// `quotas.plugin_memory`, in bytes.
        quota: u64,
    },
}

impl Tenant {
    /// Loads the plugins of `tenant` (sharing compiled code with every other
    /// instance of the same file) and binds them to their settings; its
    /// source remembers release tags in `store`.
    #[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant.name))]
    pub async fn open(
        config: &Config,
        tenant: &TenantConfig,
        host: &PluginHost,
        store: &StateStore,
    ) -> Result<Self, TenantError> {
        let mut providers = BTreeMap::new();
        for (name, provider) in &tenant.providers {
            if provider.memory > tenant.quotas.plugin_memory {
                return Err(TenantError::MemoryOverQuota {
                    tenant: tenant.name.clone(),
                    provider: name.clone(),
                    memory: provider.memory,
                    quota: tenant.quotas.plugin_memory,
                });
            }
            let fail = |source| TenantError::Plugin {
                tenant: tenant.name.clone(),
                provider: name.clone(),
                source,
            };
            let plugin = host
                .load_for(&tenant.name, &provider.plugin, provider.sha256.as_deref())
                .await
                .map_err(fail)?;
            if plugin.info().name == CHAOS_PROVIDER && !tenant.chaos {
                return Err(TenantError::ChaosOff {
                    tenant: tenant.name.clone(),
                    provider: name.clone(),
                    plugin: provider.plugin.display().to_string(),
                });
            }
            let problems =
                crate::config::schema::problems(&provider.config, &plugin.info().config_schema);
            if !problems.is_empty() {
                return Err(TenantError::Config {
                    tenant: tenant.name.clone(),
                    provider: name.clone(),
                    problems,
                });
            }
            let settings = provider_settings(&tenant.name, provider);
            providers.insert(
                name.clone(),
                Arc::new(ProviderInstance::new(host, plugin, settings)),
            );
        }
        let policies =
            Policies::load(host, tenant)
                .await
                .map_err(|source| TenantError::Policy {
                    tenant: tenant.name.clone(),
                    source,
                })?;
        // Named by tenant and repository, so that configurations sharing a
        // cache folder do not take turns overwriting one file.
        let repository = Sha256::digest(format!("{}\0{}", tenant.repo, tenant.path));
        let model_cache = ModelCache::new(
            Some(config.cache_dir.join("model").join(format!(
                "{}-{}.bin",
                tenant.name,
                &hex::encode(repository)[..16]
            ))),
            &providers,
        );
        Ok(Self {
            model_cache,
            name: tenant.name.clone(),
            config: tenant.clone(),
            source: Source::new(
                &tenant.repo,
                &tenant.reference,
                &tenant.path,
                &config.cache_dir.join("repos"),
            )
            .with_policy(ReadPolicy {
                max_files: tenant.quotas.repository_files,
                max_bytes: tenant.quotas.repository_bytes,
                allowed_signers: tenant.allowed_signers.clone(),
            })
            .with_credentials(tenant.registry_credentials.clone())
            .remembering_tags_in(store.clone()),
            providers,
            policies,
        })
    }
}

/// What the sandbox needs of the operator's settings for a provider
/// instance of `tenant`.
fn provider_settings(tenant: &str, provider: &ProviderConfig) -> ProviderSettings {
    ProviderSettings {
        tenant: tenant.to_string(),
        name: provider.name.clone(),
        config: provider.config.clone(),
        secrets: provider.secrets.clone(),
        grants: provider.allow.clone(),
        memory_bytes: provider.memory,
        timeout: provider.timeout,
        concurrency: provider.concurrency,
    }
}

/// The compiled-code cache of `config`, `CACHE_DIR/compiled/`, with its
/// key (made when missing; refused when open to other users).
pub fn compiled_cache(config: &Config) -> Result<CompiledCache, CacheKeyError> {
    CompiledCache::open(config.cache_dir.join("compiled"), &config.cache_key)
}
