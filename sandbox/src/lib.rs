//! # cairn-sandbox: the plugin host
//!
//! Runs provider components in wasmtime's sandbox. It is Cairn's host side
//! of the provider contract (`wit/provider@0.1.0`, `@0.2.0` and `@0.3.0`, loaded side
//! by side: see `guest`), kept apart from the
//! reconciler so that it has a small public API a second host, or a plugin
//! author's tooling, can use: [`PluginHost`] loads a plugin,
//! [`ProviderInstance`] binds it to its settings ([`ProviderSettings`]) and
//! makes the contract's calls, [`PluginError`] says why one failed; the
//! values exchanged are `cairn-contract`'s. [`limits`] names every limit a
//! call runs within, [`grants`] and [`ip_policy`] decide where a plugin may
//! connect, [`cpu`] shares the processor fairly between tenants, and
//! [`endpoints`] shares each server they talk to under an adaptive limit;
//! [`connections`] keeps a provider instance's connections alive between
//! its requests.
//!
//! One [`PluginHost`] holds the process's single [`Engine`] (pooling
//! allocator, epoch interruption), a linker that provides exactly the
//! imports a provider may use, and a ticker thread that advances the epoch.
//! A [`Plugin`] is a compiled component with its `InstancePre`, shared by
//! every provider instance that loads the same file. Every call gets a fresh
//! `Store` — nothing leaks between calls or tenants — with memory and table
//! limits, an epoch deadline and an outer wall-clock timeout; only the
//! connections the host opened for an instance's requests outlive a call,
//! for that instance's next requests.
//!
//! Policies (`wit/policy@0.1.0`) run in the same sandbox:
//! [`PluginHost::load_policy`] loads one, [`PolicyInstance`] binds it to
//! the operator's settings for a tenant and calls `evaluate` with the same
//! limits, CPU turns and network gate as a provider's calls.
//!
//! What a plugin can reach: `cairn:provider/log`, and `wasi:http` through
//! the network gate ([`grants`]), plus the clocks, random numbers and
//! stdio streams that any Rust component imports. Its WASI context has no
//! environment variables, no arguments and no preopened folder, so
//! `wasi:filesystem` (linked because other languages' toolchains import it
//! unused) opens nothing; `wasi:sockets` is linked with TCP, UDP and name
//! lookup switched off and every address refused, so a socket is never
//! made; `wasi:cli/exit` ends the call as a crash.

#![deny(missing_docs)]

mod bindings;
mod cache;
pub mod connections;
pub mod cpu;
pub mod endpoints;
pub mod error;
pub mod grants;
mod guard;
mod guest;
mod info_check;
mod instance;
pub mod ip_policy;
pub mod json_schema;
pub mod limits;
mod owner;
mod plugin;
mod policy;
mod regular_file;
mod result_size;
pub mod secrets;
mod send;
mod state;
pub mod tls;

pub use cache::{CacheKeyError, CompiledCache};
pub use error::{ContractViolation, PluginError};
pub use guard::SendGuard;
pub use guest::ContractVersion;
pub use instance::{ProviderInstance, ProviderSettings};
pub use owner::owner_mark;
pub use plugin::Plugin;
pub use policy::{POLICY_LABEL_PREFIX, PolicyInstance, PolicyPlugin, PolicySandbox};
pub use state::PLUGIN_LOG_TARGET;

use state::CallState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Told of every plugin call: tenant, provider instance, function, whether
/// it succeeded, and how long it took (sandbox set-up included).
pub type CallObserver = Arc<dyn Fn(&str, &str, &str, bool, std::time::Duration) + Send + Sync>;

/// The process's plugin host. Cheap to share behind an `Arc`.
pub struct PluginHost {
    engine: Engine,
    observer: Option<CallObserver>,
    linker: Linker<CallState>,
    compiled_cache: Option<CompiledCache>,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Policies loaded, by sha256: every tenant of a shared policy uses
    /// one compiled component.
    loaded_policies: Mutex<HashMap<String, Arc<PolicyPlugin>>>,
    /// The threads guest code runs on, shared fairly between tenants.
    cpu: Arc<cpu::GuestCpu>,
    /// Slots for calls running at once, process-wide.
    call_slots: Arc<tokio::sync::Semaphore>,
    /// Slots for calls running at once, per tenant.
    tenant_slots: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// The adaptive limit of every endpoint plugins talk to, shared by
    /// every tenant.
    endpoints: Arc<endpoints::EndpointLimits>,
}

impl PluginHost {
    /// Builds the engine and linker. `compiled_cache` keeps compiled
    /// plugins between runs (`None` compiles every time).
    pub fn new(compiled_cache: Option<CompiledCache>) -> Result<Self, PluginError> {
        // Several crates enable rustls with different crypto back ends;
        // without a process default, a plugin's first HTTPS request would
        // panic the host task. One that is already installed stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let engine = Engine::new(&engine_config()).map_err(host_error)?;
        let linker = build_linker(&engine).map_err(host_error)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let cpu = cpu::GuestCpu::start(engine.clone(), cores).map_err(|error| {
            PluginError::Host(format!("cannot start the guest threads: {error}"))
        })?;
        Ok(Self {
            cpu: Arc::new(cpu),
            engine,
            observer: None,
            linker,
            compiled_cache,
            loaded: Mutex::new(HashMap::new()),
            loaded_policies: Mutex::new(HashMap::new()),
            call_slots: Arc::new(tokio::sync::Semaphore::new(
                limits::MAX_CONCURRENT_CALLS as usize,
            )),
            tenant_slots: Mutex::new(HashMap::new()),
            endpoints: Arc::default(),
        })
    }

    /// The process-wide call slots and `tenant`'s own.
    fn slots(&self, tenant: &str) -> instance::CallSlots {
        let mut tenants = self.tenant_slots.lock().expect("tenant slots");
        let own = tenants
            .entry(tenant.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(limits::MAX_CALLS_PER_TENANT)))
            .clone();
        instance::CallSlots {
            process: self.call_slots.clone(),
            tenant: own,
        }
    }

    /// Calls holding a process-wide slot now (running, or setting up their
    /// sandbox); at most [`limits::MAX_CONCURRENT_CALLS`].
    pub fn calls_running(&self) -> usize {
        limits::MAX_CONCURRENT_CALLS as usize - self.call_slots.available_permits()
    }

    /// Calls of `tenant` holding one of its slots now (running, or waiting
    /// for a process-wide slot); at most [`limits::MAX_CALLS_PER_TENANT`].
    pub fn tenant_calls_running(&self, tenant: &str) -> usize {
        self.tenant_slots
            .lock()
            .expect("tenant slots")
            .get(tenant)
            .map_or(0, |slots| {
                limits::MAX_CALLS_PER_TENANT - slots.available_permits()
            })
    }

    /// The limit and load of every endpoint plugins talked to.
    pub fn endpoint_loads(&self) -> Vec<endpoints::EndpointLoad> {
        self.endpoints.loads()
    }

    /// Reports every call of instances created from now on to `observer`
    /// (the daemon's metrics).
    pub fn set_call_observer(&mut self, observer: CallObserver) {
        self.observer = Some(observer);
    }

    /// Spawns `caller`, host code that makes plugin calls (a tenant's
    /// worker), on the threads guest code runs on, at their priority: a
    /// call it makes is then polled where it runs, not handed to another
    /// thread and back (see [`cpu`]). Its own code takes no turn of those
    /// threads; each call it makes takes its tenant's. The task ends with
    /// the host at the latest.
    pub fn spawn_caller<F>(&self, caller: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.cpu.spawn_caller(caller)
    }

    /// The engine, for tools that measure it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn host_error(error: impl std::fmt::Display) -> PluginError {
    PluginError::Host(format!("{error:#}"))
}

/// The engine settings of the host: pooling allocator sized by
/// [`limits`], epoch interruption, the component model. Public so that
/// benchmarks can build a bare wasmtime harness on the same settings.
pub fn engine_config() -> Config {
    let mut pool = PoolingAllocationConfig::default();
    let calls = limits::MAX_CONCURRENT_CALLS;
    pool.total_component_instances(calls)
        .total_core_instances(calls * limits::MAX_INSTANCES_PER_STORE as u32)
        .total_memories(calls * 2)
        .total_tables(calls * 4)
        .total_stacks(calls)
        .max_core_instances_per_component(limits::MAX_INSTANCES_PER_STORE as u32)
        .max_memories_per_component(limits::MAX_MEMORIES_PER_STORE as u32)
        .max_tables_per_component(limits::MAX_TABLES_PER_STORE as u32)
        .max_memory_size(limits::MAX_MEMORY_BYTES as usize)
        .table_elements(limits::MAX_TABLE_ELEMENTS);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// The imports a provider may use, and nothing else.
fn build_linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, filesystem, random, sockets};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

    let mut linker = Linker::new(engine);
    // wasi:io, wasi:clocks, wasi:random and the stdio streams.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(&mut linker)?;
    // The rest of what Rust's standard library, componentize-py,
    // ComponentizeJS and TinyGo import whether they use it or not; the
    // context behind them is empty (no variables, no arguments, no
    // preopened folder, TCP, UDP and name lookup switched off and every
    // address refused), so they give the plugin nothing, and `exit` ends
    // the call as a crash. HTTP through the gate is the only way out.
    random::insecure::add_to_linker::<_, WasiRandom>(
        &mut linker,
        <CallState as WasiRandomView>::random,
    )?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(
        &mut linker,
        <CallState as WasiRandomView>::random,
    )?;
    cli::exit::add_to_linker::<_, WasiCli>(&mut linker, <CallState as WasiCliView>::cli)?;
    cli::environment::add_to_linker::<_, WasiCli>(&mut linker, <CallState as WasiCliView>::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(&mut linker, <CallState as WasiCliView>::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(
        &mut linker,
        <CallState as WasiCliView>::cli,
    )?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(&mut linker, <CallState as WasiCliView>::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(
        &mut linker,
        <CallState as WasiCliView>::cli,
    )?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(
        &mut linker,
        <CallState as WasiCliView>::cli,
    )?;
    filesystem::types::add_to_linker::<_, WasiFilesystem>(
        &mut linker,
        <CallState as WasiFilesystemView>::filesystem,
    )?;
    filesystem::preopens::add_to_linker::<_, WasiFilesystem>(
        &mut linker,
        <CallState as WasiFilesystemView>::filesystem,
    )?;
    sockets::network::add_to_linker::<_, WasiSockets>(
        &mut linker,
        &sockets::network::LinkOptions::default(),
        <CallState as WasiSocketsView>::sockets,
    )?;
    sockets::instance_network::add_to_linker::<_, WasiSockets>(
        &mut linker,
        <CallState as WasiSocketsView>::sockets,
    )?;
    sockets::tcp_create_socket::add_to_linker::<_, WasiSockets>(
        &mut linker,
        <CallState as WasiSocketsView>::sockets,
    )?;
    sockets::tcp::add_to_linker::<_, WasiSockets>(
        &mut linker,
        <CallState as WasiSocketsView>::sockets,
    )?;
    sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(
        &mut linker,
        <CallState as WasiSocketsView>::sockets,
    )?;
    sockets::udp::add_to_linker::<_, WasiSockets>(
        &mut linker,
        <CallState as WasiSocketsView>::sockets,
    )?;
    sockets::ip_name_lookup::add_to_linker::<_, WasiSockets>(
        &mut linker,
        <CallState as WasiSocketsView>::sockets,
    )?;
    // wasi:http, every request through the network gate.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    // cairn:provider/log, of every version the host loads.
    bindings::v0_1::cairn::provider::log::add_to_linker::<_, HasSelf<CallState>>(
        &mut linker,
        |state| state,
    )?;
    bindings::v0_2::cairn::provider::log::add_to_linker::<_, HasSelf<CallState>>(
        &mut linker,
        |state| state,
    )?;
    bindings::v0_3::cairn::provider::log::add_to_linker::<_, HasSelf<CallState>>(
        &mut linker,
        |state| state,
    )?;
    // cairn:policy/log, for policy components.
    bindings::policy_v0_1::cairn::policy::log::add_to_linker::<_, HasSelf<CallState>>(
        &mut linker,
        |state| state,
    )?;
    Ok(linker)
}
