//! A bare wasmtime harness: the plugin host's engine settings and the same
//! component and call, without anything of Cairn's (limits, labels, the
//! network gate, result conversion) — the floor the host is measured
//! against.

use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// `calls` times: a fresh store, instantiation of the pre-instantiated
/// component, and `validate([])` — what the host's benchmark does.
pub async fn overhead(calls: usize) -> anyhow::Result<Vec<Duration>> {
    let engine =
        Engine::new(&cairn::host::engine_config()).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let bytes = std::fs::read(cairn_tests::plugin_path("dns_powerdns"))?;
    let component = Component::new(&engine, &bytes).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    // The plugin logs through the host (`cairn:provider/log`): here its
    // records are dropped.
    linker
        .instance("cairn:provider/log@0.3.0")
        .and_then(|mut log| log.func_new("log", |_, _, _, _| Ok(())))
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let interface = component
        .get_export_index(None, "cairn:provider/provider@0.3.0")
        .ok_or_else(|| anyhow::anyhow!("the component exports no provider interface"))?;
    let validate = component
        .get_export_index(Some(&interface), "validate")
        .ok_or_else(|| anyhow::anyhow!("the provider exports no validate"))?;

    let mut samples = Vec::with_capacity(calls);
    for round in 0..calls + 100 {
        let started = Instant::now();
        let mut store = Store::new(
            &engine,
            State {
                wasi: WasiCtx::builder().build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let func = instance
            .get_func(&mut store, validate)
            .ok_or_else(|| anyhow::anyhow!("validate is not a function"))?;
        let mut results = [Val::Bool(false)];
        func.call_async(&mut store, &[Val::List(Vec::new())], &mut results)
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        drop(store);
        // The first hundred warm up, as in the host's benchmark.
        if round >= 100 {
            samples.push(started.elapsed());
        }
    }
    Ok(samples)
}
