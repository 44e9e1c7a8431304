//! Policy components (`cairn:policy@0.1.0`): loading one, and its
//! `evaluate` call, run in the same sandbox as a provider's calls — a
//! fresh store per call with the operator's memory and time limits, the
//! tenant's call slots and CPU turns, and the network gate with the
//! policy's own grants (none unless the operator gave some).

use super::PluginHost;
use super::bindings::policy_v0_1::{self, PolicyPluginPre};
use super::error::PluginError;
use super::grants::Grant;
use super::instance::{CallLimits, CallSlots, Instantiate, call_body_of, run_call};
use super::plugin::read_component;
use super::result_size::{self, ResultSize};
use super::state::{CallLabel, CallState};
use cairn_contract::{Finding, PolicyInfo, PolicyInput, PolicySettings};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Store;

/// What a policy's calls are labelled with in logs, metrics and errors,
/// before its id (`policy:no-short-ttl`): provider names cannot hold a
/// `:`, so the two never mix.
pub const POLICY_LABEL_PREFIX: &str = "policy:";

/// A linked policy component, ready to be instantiated.
#[derive(Clone)]
pub(super) struct PolicyPre(PolicyPluginPre<CallState>);

impl Instantiate for PolicyPre {
    type Instance = policy_v0_1::PolicyPlugin;

    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<CallState>,
    ) -> futures::future::BoxFuture<'a, wasmtime::Result<Self::Instance>> {
        Box::pin(self.0.instantiate_async(store))
    }
}

/// A compiled, linked policy component.
pub struct PolicyPlugin {
    path: PathBuf,
    sha256: String,
    pre: PolicyPre,
    info: PolicyInfo,
}

impl std::fmt::Debug for PolicyPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyPlugin")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl PolicyPlugin {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sha256 of the file, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// What the policy said of itself.
    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }
}

/// The sandbox the operator set for one policy of a tenant.
#[derive(Debug, Clone)]
pub struct PolicySandbox {
    /// The tenant whose plans it checks: its calls take the tenant's call
    /// slots and CPU turns.
    pub tenant: String,
    /// The policy's id in `cairn.toml`.
    pub id: String,
    /// Network grants: none by default.
    pub grants: Vec<Grant>,
    /// Linear memory per call.
    pub memory_bytes: u64,
    /// Deadline per call.
    pub timeout: Duration,
}

impl PluginHost {
    /// Loads the policy component at `path` for `tenant`, refusing it when
    /// its sha256 is not `expected_sha256`, and asks it to describe itself.
    /// A file already loaded (same digest) is shared.
    pub async fn load_policy(
        &self,
        tenant: &str,
        path: &Path,
        expected_sha256: Option<&str>,
    ) -> Result<Arc<PolicyPlugin>, PluginError> {
        let invalid = |reason: String| PluginError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let (bytes, digest) = read_component(path, expected_sha256).await?;
        let sha256 = hex::encode(digest);
        let known = |host: &Self| {
            host.loaded_policies
                .lock()
                .expect("policy map")
                .get(&sha256)
                .cloned()
        };
        if let Some(plugin) = known(self) {
            return Ok(plugin);
        }
        let slot = Self::compile_slot().await;
        // Another load of the same file may have finished meanwhile.
        if let Some(plugin) = known(self) {
            return Ok(plugin);
        }
        let component = self.compile(path, bytes, digest, slot).await?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| invalid(format!("{error:#}")))?;
        let pre = PolicyPluginPre::new(instance_pre).map_err(|error| {
            invalid(format!(
                "it is not a policy of cairn:policy@0.1.0 ({error:#}); build it against `wit/policy@0.1.0` of this Cairn (`cairn plugin new NAME --kind policy` starts one)"
            ))
        })?;
        let pre = PolicyPre(pre);
        let label = format!("{POLICY_LABEL_PREFIX}{}", path.display());
        let info = self
            .run_describe(
                tenant,
                &label,
                pre.clone(),
                call_body_of(|store, policy: &policy_v0_1::PolicyPlugin| {
                    Box::pin(async move { policy.cairn_policy_policy().call_describe(store).await })
                }),
            )
            .await?;
        let info = PolicyInfo::try_from(info).map_err(|violation| PluginError::Contract {
            provider: label,
            function: "describe",
            violation,
        })?;
        let plugin = Arc::new(PolicyPlugin {
            path: path.to_path_buf(),
            sha256: sha256.clone(),
            pre,
            info,
        });
        self.loaded_policies
            .lock()
            .expect("policy map")
            .insert(sha256, plugin.clone());
        Ok(plugin)
    }
}

/// A policy bound to one tenant's settings and sandbox.
pub struct PolicyInstance {
    plugin: Arc<PolicyPlugin>,
    engine: wasmtime::Engine,
    cpu: Arc<super::cpu::GuestCpu>,
    observer: Option<super::CallObserver>,
    tenant: Arc<str>,
    label: Arc<str>,
    id: String,
    limits: CallLimits,
    slots: CallSlots,
}

impl std::fmt::Debug for PolicyInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyInstance")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl PolicyInstance {
    /// Binds `plugin` to a tenant's sandbox for it.
    pub fn new(host: &PluginHost, plugin: Arc<PolicyPlugin>, sandbox: PolicySandbox) -> Self {
        Self {
            slots: host.slots(&sandbox.tenant),
            plugin,
            engine: host.engine.clone(),
            cpu: host.cpu.clone(),
            observer: host.observer.clone(),
            label: format!("{POLICY_LABEL_PREFIX}{}", sandbox.id).into(),
            tenant: sandbox.tenant.into(),
            id: sandbox.id,
            limits: CallLimits {
                grants: sandbox.grants.into(),
                memory_bytes: sandbox.memory_bytes,
                timeout: sandbox.timeout,
                endpoints: CallLimits::endpoints(host, Default::default()),
                connections: Arc::default(),
            },
        }
    }

    /// The policy's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The plugin behind it.
    pub fn plugin(&self) -> &Arc<PolicyPlugin> {
        &self.plugin
    }

    /// Checks `input` under `settings`: the policy's findings, or why it
    /// could not evaluate (its own error, a trap, a limit).
    pub async fn evaluate(
        &self,
        settings: &PolicySettings,
        input: &PolicyInput,
    ) -> Result<Vec<Finding>, PluginError> {
        let wit_settings = policy_v0_1::cairn::policy::types::Settings::from(settings);
        let wit_input = policy_v0_1::cairn::policy::types::Input::from(input);
        let label = CallLabel {
            tenant: self.tenant.clone(),
            provider: self.label.clone(),
            function: "evaluate",
            warnings: Default::default(),
        };
        let started = std::time::Instant::now();
        let result = {
            let _slots = self.slots.take(&label).await;
            run_call(
                &self.cpu,
                self.engine.clone(),
                self.plugin.pre.clone(),
                label,
                self.limits.clone(),
                None,
                call_body_of(move |store, policy: &policy_v0_1::PolicyPlugin| {
                    Box::pin(async move {
                        policy
                            .cairn_policy_policy()
                            .call_evaluate(store, &wit_settings, &wit_input)
                            .await
                    })
                }),
            )
            .await
        };
        if let Some(observer) = &self.observer {
            let ok = matches!(result, Ok(Ok(_)));
            observer(&self.tenant, &self.label, "evaluate", ok, started.elapsed());
        }
        let findings = result?.map_err(|error| PluginError::Policy {
            policy: self.id.clone(),
            error: error.into(),
        })?;
        result_size::check(&self.label, "evaluate", &findings)?;
        Ok(findings.into_iter().map(Finding::from).collect())
    }
}

impl ResultSize for policy_v0_1::cairn::policy::types::PolicyInfo {
    fn result_bytes(&self) -> usize {
        self.name.len() + self.version.len() + self.description.len() + self.config_schema.len()
    }
}

impl ResultSize for policy_v0_1::cairn::policy::types::Finding {
    fn result_bytes(&self) -> usize {
        self.rule.len()
            + self.message.len()
            + self.address.result_bytes()
            + self.field.result_bytes()
            + self.help.result_bytes()
    }
}
