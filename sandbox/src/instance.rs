//! A provider instance: a plugin with one tenant's configuration, secrets,
//! grants and limits; and the machinery of one sandboxed call.

use super::bindings;
use super::connections::Connections;
use super::endpoints::{Concurrency, EndpointLimits};
use super::error::{ContractViolation, PluginError};
use super::grants::Grant;
use super::guard::SendGuard;
use super::guest::{Guest, GuestPre};
use super::limits;
use super::plugin::Plugin;
use super::result_size;
use super::state::{CallLabel, CallState};
use crate::secrets::SecretRef;
use cairn_contract::{Change, Declared, DiffInput, Observed, Outcome, ProviderInfo, Validation};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use wasmtime::{Engine, Store, Trap};

/// What the operator set for one provider instance of a tenant.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The tenant.
    pub tenant: String,
    /// The instance's name (`dns`).
    pub name: String,
    /// The plugin's configuration.
    pub config: serde_json::Value,
    /// Secret references by name.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Network grants.
    pub grants: Vec<Grant>,
    /// Linear memory per call.
    pub memory_bytes: u64,
    /// Deadline per call.
    pub timeout: Duration,
    /// How its requests share the endpoints they go to.
    pub concurrency: Concurrency,
}

/// The limits of one call.
#[derive(Clone)]
pub(super) struct CallLimits {
    pub grants: Arc<[Grant]>,
    pub memory_bytes: u64,
    pub timeout: Duration,
    /// The host's endpoint limits and this call's ceiling for them;
    /// `None`: its requests are not limited beyond the per-call cap.
    pub endpoints: Option<(Arc<EndpointLimits>, usize)>,
    /// The connections kept between its requests: the provider
    /// instance's own, shared by its calls and no one else's.
    pub connections: Arc<Connections>,
}

impl CallLimits {
    /// The endpoint limits a call of `concurrency` goes through.
    pub fn endpoints(
        host: &super::PluginHost,
        concurrency: Concurrency,
    ) -> Option<(Arc<EndpointLimits>, usize)> {
        match concurrency {
            Concurrency::Adaptive { max } => Some((host.endpoints.clone(), max)),
            Concurrency::Unlimited => None,
        }
    }
}

/// A plugin configured for one tenant's provider instance.
pub struct ProviderInstance {
    plugin: Arc<Plugin>,
    engine: Engine,
    cpu: Arc<super::cpu::GuestCpu>,
    observer: Option<super::CallObserver>,
    tenant: Arc<str>,
    name: Arc<str>,
    /// The mark `configure` hands the plugin ([`super::owner_mark`]).
    owner: String,
    config: String,
    secrets: BTreeMap<String, SecretRef>,
    limits: CallLimits,
    slots: CallSlots,
}

/// The slots a call takes before it runs: one of the tenant's, then one of
/// the process's.
pub(super) struct CallSlots {
    /// Process-wide ([`limits::MAX_CONCURRENT_CALLS`]).
    pub process: Arc<tokio::sync::Semaphore>,
    /// The tenant's own ([`limits::MAX_CALLS_PER_TENANT`]).
    pub tenant: Arc<tokio::sync::Semaphore>,
}

impl CallSlots {
    /// Waits for one of the tenant's slots, then one of the process's: the
    /// tenant's first, so that a tenant waiting on itself holds nothing the
    /// others need. A call's deadline starts once it has both; a long wait
    /// is logged.
    pub(super) async fn take(
        &self,
        label: &CallLabel,
    ) -> (
        tokio::sync::SemaphorePermit<'_>,
        tokio::sync::SemaphorePermit<'_>,
    ) {
        let queued = std::time::Instant::now();
        let tenant = self
            .tenant
            .acquire()
            .await
            .expect("call slots are never closed");
        let process = self
            .process
            .acquire()
            .await
            .expect("call slots are never closed");
        let waited = queued.elapsed();
        if waited >= limits::SLOW_QUEUE {
            tracing::debug!(
                tenant = %label.tenant,
                provider = %label.provider,
                function = label.function,
                waited_ms = waited.as_millis() as u64,
                "a plugin call waited for a call slot"
            );
        }
        (tenant, process)
    }
}

impl std::fmt::Debug for ProviderInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInstance")
            .field("tenant", &self.tenant)
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

/// The outcome of a call whose guest side may fail with a typed error:
/// which function failed, and how.
type GuestResult<T> = Result<T, (&'static str, bindings::Error)>;

/// The guest side of a call: what runs in the fresh store once the
/// component (`G`, a provider's [`Guest`] or a policy's) is instantiated.
/// Owned, so that the call can run on the guest threads ([`super::cpu`])
/// while its caller waits elsewhere.
pub(super) type CallBody<R, G = Guest> = Box<
    dyn for<'a> FnOnce(
            &'a mut Store<CallState>,
            &'a G,
        ) -> futures::future::BoxFuture<'a, wasmtime::Result<R>>
        + Send,
>;

/// Makes a [`CallBody`] of a provider's call of a closure (which names the
/// lifetimes the boxed type needs).
pub(super) fn call_body<R, F>(body: F) -> CallBody<R>
where
    F: for<'a> FnOnce(
            &'a mut Store<CallState>,
            &'a Guest,
        ) -> futures::future::BoxFuture<'a, wasmtime::Result<R>>
        + Send
        + 'static,
{
    Box::new(body)
}

/// [`call_body`] for a component of any kind, `G` its instance.
pub(super) fn call_body_of<R, G, F>(body: F) -> CallBody<R, G>
where
    F: for<'a> FnOnce(
            &'a mut Store<CallState>,
            &'a G,
        ) -> futures::future::BoxFuture<'a, wasmtime::Result<R>>
        + Send
        + 'static,
{
    Box::new(body)
}

/// A linked component a call instantiates in its fresh store: a
/// provider's [`GuestPre`], or a policy's.
pub(super) trait Instantiate: Clone + Send + Sync + 'static {
    /// The instance a call's body drives.
    type Instance: Send + Sync + 'static;

    /// Instantiates the component in `store`.
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<CallState>,
    ) -> futures::future::BoxFuture<'a, wasmtime::Result<Self::Instance>>;
}

impl Instantiate for GuestPre {
    type Instance = Guest;

    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<CallState>,
    ) -> futures::future::BoxFuture<'a, wasmtime::Result<Guest>> {
        Box::pin(self.instantiate_async(store))
    }
}

impl ProviderInstance {
    /// Binds `plugin` to an instance's settings.
    pub fn new(host: &super::PluginHost, plugin: Arc<Plugin>, settings: ProviderSettings) -> Self {
        let slots = host.slots(&settings.tenant);
        Self {
            slots,
            plugin,
            engine: host.engine.clone(),
            cpu: host.cpu.clone(),
            observer: host.observer.clone(),
            owner: super::owner_mark(&settings.tenant, &settings.name),
            tenant: settings.tenant.into(),
            name: settings.name.into(),
            config: settings.config.to_string(),
            secrets: settings.secrets,
            limits: CallLimits {
                grants: settings.grants.into(),
                memory_bytes: settings.memory_bytes,
                timeout: settings.timeout,
                endpoints: CallLimits::endpoints(host, settings.concurrency),
                connections: Arc::default(),
            },
        }
    }

    /// The mark the plugin writes on the objects it creates and vouches
    /// for in `list`.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin manages.
    pub fn info(&self) -> &ProviderInfo {
        self.plugin.info()
    }

    /// The linear memory each call may use, which also holds the call's
    /// arguments.
    pub fn memory_bytes(&self) -> u64 {
        self.limits.memory_bytes
    }

    /// The plugin behind the instance.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Validates and canonicalizes resources (`type`, spec) in one call.
    pub async fn validate(
        &self,
        resources: &[(String, serde_json::Value)],
    ) -> Result<Vec<Validation>, PluginError> {
        self.validate_json(
            resources
                .iter()
                .map(|(type_name, spec)| (type_name.clone(), spec.to_string()))
                .collect(),
        )
        .await
    }

    /// [`ProviderInstance::validate`] of specs already written as JSON
    /// text (`type`, spec), which are moved into the call, not copied.
    pub async fn validate_json(
        &self,
        resources: Vec<(String, String)>,
    ) -> Result<Vec<Validation>, PluginError> {
        let sent = resources.len();
        let resources: Vec<bindings::Desired> = resources
            .into_iter()
            .map(|(type_name, spec)| bindings::Desired { type_name, spec })
            .collect();
        let validations = self
            .call(
                "validate",
                false,
                call_body(move |store, plugin| {
                    Box::pin(async move { Ok(Ok(plugin.call_validate(store, &resources).await?)) })
                }),
            )
            .await?;
        result_size::check(&self.name, "validate", &validations)?;
        self.check_count("validate", sent, validations.len())?;
        validations
            .into_iter()
            .map(|validation| {
                Validation::try_from(validation).map_err(|r| self.contract("validate", r))
            })
            .collect()
    }

    /// Observes the objects of `type_names`, with the ids of interest.
    pub async fn list(
        &self,
        type_names: Vec<String>,
        ids: Vec<String>,
    ) -> Result<Vec<Observed>, PluginError> {
        let scope = bindings::Scope { type_names, ids };
        let observed = self
            .call(
                "list",
                true,
                call_body(move |store, plugin| {
                    Box::pin(async move {
                        Ok(plugin
                            .call_list(store, &scope)
                            .await?
                            .map_err(|e| ("list", e)))
                    })
                }),
            )
            .await?;
        result_size::check(&self.name, "list", &observed)?;
        observed
            .into_iter()
            .map(|o| Observed::try_from(o).map_err(|r| self.contract("list", r)))
            .collect()
    }

    /// Computes one change per input; `declared` names the commit's other
    /// resources of this instance, which references may point at
    /// (contract 0.2.0; a 0.1.0 plugin is not told).
    pub async fn diff(
        &self,
        inputs: &[DiffInput],
        declared: &[Declared],
    ) -> Result<Vec<Change>, PluginError> {
        let declared = declared
            .iter()
            .map(|declared| (declared.type_name.as_str(), declared.id.as_str()));
        self.diff_declaring(inputs, declared).await
    }

    /// [`ProviderInstance::diff`], the declared resources given as their
    /// (type, id), borrowed: each is copied once, into the form the
    /// sandbox takes.
    pub async fn diff_declaring<'a>(
        &self,
        inputs: &[DiffInput],
        declared: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<Change>, PluginError> {
        let wit_inputs: Vec<bindings::DiffInput> = inputs.iter().map(Into::into).collect();
        let wit_declared: Vec<bindings::Declared> = declared
            .map(|(type_name, id)| bindings::Declared {
                type_name: type_name.to_string(),
                id: id.to_string(),
            })
            .collect();
        let changes = self
            .call(
                "diff",
                true,
                call_body(move |store, plugin| {
                    Box::pin(async move {
                        Ok(plugin
                            .call_diff(store, &wit_inputs, &wit_declared)
                            .await?
                            .map_err(|e| ("diff", e)))
                    })
                }),
            )
            .await?;
        result_size::check(&self.name, "diff", &changes)?;
        self.check_count("diff", inputs.len(), changes.len())?;
        let changes = changes
            .into_iter()
            .map(|c| Change::try_from(c).map_err(|r| self.contract("diff", r)))
            .collect::<Result<Vec<_>, _>>()?;
        for (input, change) in inputs.iter().zip(&changes) {
            if input.type_name != change.type_name || input.id != change.id {
                return Err(self.contract(
                    "diff",
                    ContractViolation::ChangeOrder {
                        expected: format!("{}/{}", input.type_name, input.id),
                        returned: format!("{}/{}", change.type_name, change.id),
                    },
                ));
            }
        }
        Ok(changes)
    }

    /// Applies changes, one outcome per change.
    pub async fn apply(&self, changes: &[Change]) -> Result<Vec<Outcome>, PluginError> {
        self.apply_guarded(changes, None).await
    }

    /// [`ProviderInstance::apply`], with every outgoing request of the call
    /// refused once `guard` says the call may no longer send (the daemon
    /// lost the tenant's lease while the call ran).
    pub async fn apply_guarded(
        &self,
        changes: &[Change],
        guard: Option<Arc<dyn SendGuard>>,
    ) -> Result<Vec<Outcome>, PluginError> {
        let changes: Vec<&Change> = changes.iter().collect();
        self.apply_each(&changes, guard).await
    }

    /// [`ProviderInstance::apply_guarded`] of borrowed changes (a plan's):
    /// each is copied once, into the form the sandbox takes.
    pub async fn apply_each(
        &self,
        changes: &[&Change],
        guard: Option<Arc<dyn SendGuard>>,
    ) -> Result<Vec<Outcome>, PluginError> {
        let wit_changes: Vec<bindings::Change> =
            changes.iter().map(|&change| change.into()).collect();
        let outcomes = self
            .call_guarded(
                "apply",
                true,
                guard,
                call_body(move |store, plugin| {
                    Box::pin(async move { Ok(Ok(plugin.call_apply(store, &wit_changes).await?)) })
                }),
            )
            .await?;
        result_size::check(&self.name, "apply", &outcomes)?;
        self.check_count("apply", changes.len(), outcomes.len())?;
        outcomes
            .into_iter()
            .map(|o| Outcome::try_from(o).map_err(|r| self.contract("apply", r)))
            .collect()
    }

    /// Runs `body` in a fresh sandbox, after `configure` when asked.
    async fn call<R: Send + 'static>(
        &self,
        function: &'static str,
        configure: bool,
        body: CallBody<GuestResult<R>>,
    ) -> Result<R, PluginError> {
        self.call_guarded(function, configure, None, body).await
    }

    /// [`ProviderInstance::call`], with `guard` asked before each outgoing
    /// request and each piece of its body.
    async fn call_guarded<R: Send + 'static>(
        &self,
        function: &'static str,
        configure: bool,
        guard: Option<Arc<dyn SendGuard>>,
        body: CallBody<GuestResult<R>>,
    ) -> Result<R, PluginError> {
        let secrets = if configure {
            self.secrets
                .iter()
                .map(|(name, reference)| {
                    Ok(bindings::Secret {
                        name: name.clone(),
                        value: reference.resolve(name)?.expose().to_string(),
                    })
                })
                .collect::<Result<Vec<_>, PluginError>>()?
        } else {
            Vec::new()
        };
        let label = CallLabel {
            tenant: self.tenant.clone(),
            provider: self.name.clone(),
            function,
            warnings: Default::default(),
        };
        let _slots = self.slots.take(&label).await;
        let started = std::time::Instant::now();
        let config = self.config.clone();
        let owner = self.owner.clone();
        let result = run_call(
            &self.cpu,
            self.engine.clone(),
            self.plugin.pre.clone(),
            label,
            self.limits.clone(),
            guard,
            call_body(move |store, plugin| {
                Box::pin(async move {
                    if configure
                        && let Err(error) = plugin
                            .call_configure(&mut *store, &config, &secrets, &owner)
                            .await?
                    {
                        return Ok(Err(("configure", error)));
                    }
                    body(store, plugin).await
                })
            }),
        )
        .await;
        if let Some(observer) = &self.observer {
            let ok = matches!(result, Ok(Ok(_)));
            observer(&self.tenant, &self.name, function, ok, started.elapsed());
        }
        let result = result?;
        result.map_err(|(function, error)| PluginError::Provider {
            provider: self.name.to_string(),
            function,
            error: error.into(),
        })
    }

    fn check_count(
        &self,
        function: &'static str,
        sent: usize,
        received: usize,
    ) -> Result<(), PluginError> {
        if sent == received {
            Ok(())
        } else {
            Err(self.contract(function, ContractViolation::ResultCount { sent, received }))
        }
    }

    fn contract(&self, function: &'static str, violation: ContractViolation) -> PluginError {
        PluginError::Contract {
            provider: self.name.to_string(),
            function,
            violation,
        }
    }
}

/// Runs one call on the guest threads ([`super::cpu`]), taking the
/// tenant's turns, in a fresh `Store` with the call's limits: memory and
/// tables through the store limiter, a yield at every epoch tick and a
/// deadline for guest code, and a wall-clock timeout around everything
/// (host waits included). `guard`, when given, is asked before each
/// outgoing request and each piece of its body.
pub(super) async fn run_call<R: Send + 'static, P: Instantiate>(
    cpu: &super::cpu::GuestCpu,
    engine: Engine,
    pre: P,
    label: CallLabel,
    limits: CallLimits,
    guard: Option<Arc<dyn SendGuard>>,
    body: CallBody<R, P::Instance>,
) -> Result<R, PluginError> {
    let span =
        tracing::debug_span!("plugin_call", provider = %label.provider, function = label.function);
    let tenant = label.tenant.clone();
    // The caller's span (a run's tenant, trigger and commit) goes along to
    // the guest threads, so that plugin log records and gate warnings keep
    // it, with the call's own span inside when it is enabled.
    let call = sandboxed(engine, pre, label.clone(), limits, guard, body)
        .instrument(span)
        .instrument(tracing::Span::current());
    match cpu.run(tenant, call).await {
        Some(outcome) => outcome,
        None => Err(PluginError::Host(format!(
            "the host's task for `{}` of {} panicked",
            label.function, label.provider
        ))),
    }
}

/// The call itself, on whichever thread polls it.
async fn sandboxed<R, P: Instantiate>(
    engine: Engine,
    pre: P,
    label: CallLabel,
    limits: CallLimits,
    guard: Option<Arc<dyn SendGuard>>,
    body: CallBody<R, P::Instance>,
) -> Result<R, PluginError> {
    let mut store = Store::new(
        &engine,
        CallState::new(
            label.clone(),
            limits.grants.clone(),
            limits.memory_bytes,
            limits.endpoints.clone(),
            limits.connections.clone(),
            guard,
        ),
    );
    store.limiter(|state| &mut state.limits);
    // At every epoch tick the guest yields, giving its turn of the guest
    // threads to whoever waits for one (see `cpu`); past its deadline it
    // is stopped.
    let deadline = std::time::Instant::now() + limits.timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if std::time::Instant::now() >= deadline {
            wasmtime::UpdateDeadline::Interrupt
        } else {
            wasmtime::UpdateDeadline::Yield(1)
        })
    });
    let outcome = tokio::time::timeout(limits.timeout + limits::OUTER_TIMEOUT_GRACE, async {
        let plugin = pre.instantiate(&mut store).await?;
        body(&mut store, &plugin).await
    })
    .await;
    let provider = label.provider.to_string();
    let function = label.function;
    report_unwritten(&label, store.data());
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Err(_elapsed) => Err(PluginError::Timeout {
            provider,
            function,
            timeout: limits.timeout,
        }),
        Ok(Err(error)) if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
            Err(PluginError::Timeout {
                provider,
                function,
                timeout: limits.timeout,
            })
        }
        Ok(Err(error))
            if error.chain().any(|cause| {
                matches!(
                    cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
                    Some(wasmtime::component::ResourceTableError::Full)
                )
            }) =>
        {
            Err(PluginError::TooManyResources {
                provider,
                function,
                limit: limits::MAX_RESOURCES_PER_CALL,
            })
        }
        Ok(Err(error)) => {
            let reason = format!("{error:#}");
            if reason.contains("growing memory") {
                Err(PluginError::MemoryExhausted {
                    provider,
                    function,
                    limit_mib: limits.memory_bytes >> 20,
                })
            } else {
                // The trap's own words (`call stack exhausted`, `wasm
                // trap: wasm \`unreachable\` instruction executed`), not the
                // backtrace's heading.
                let reason = match error.downcast_ref::<Trap>() {
                    Some(trap) => trap.to_string(),
                    None => first_line(&format!("{}", error.root_cause())),
                };
                Err(PluginError::Trap {
                    provider,
                    function,
                    reason,
                    stderr: store.data().stderr_text(),
                })
            }
        }
    }
}

/// Writes one warning for each of the call's limits on what it may make
/// the host write (log records, log bytes, warnings about its requests)
/// that it went past, with how much was not written.
fn report_unwritten(label: &CallLabel, state: &CallState) {
    let (past_count, past_budget) = state.dropped_log_records();
    let reports = [
        (
            past_count,
            format!(
                "log records dropped: a call may write at most {} records",
                limits::MAX_LOG_RECORDS_PER_CALL
            ),
        ),
        (
            past_budget,
            format!(
                "log records dropped: a call may write at most {} KiB of log",
                limits::MAX_LOG_BYTES_PER_CALL >> 10
            ),
        ),
        (
            label.warnings.suppressed(),
            format!(
                "more warnings about this call's requests were not written: a call writes at most {}",
                limits::MAX_REQUEST_WARNINGS_PER_CALL
            ),
        ),
    ];
    for (unwritten, what) in reports {
        if unwritten > 0 {
            tracing::warn!(
                tenant = %label.tenant,
                provider = %label.provider,
                call = label.function,
                unwritten,
                "{unwritten} {what}"
            );
        }
    }
}

/// The first line of a wasmtime error (the rest is a wasm backtrace).
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
