//! The same provider in Rust, JavaScript and Python, side by side: the
//! key/value provider `cairn plugin new` writes in each language, against
//! the same fake service with 1,000 entries. Measures what a language
//! costs the host: the component's size, its compile, its load from the
//! compiled-code cache, a fresh instance with a trivial call, and a plan
//! of 1,000 resources with nothing to change (validate, list, diff: the
//! plugin calls of `cairn plan`), in process.

use cairn::contract::DiffInput;
use cairn::host::grants::Grant;
use cairn::host::secrets::SecretRef;
use cairn::host::{CompiledCache, PluginHost, ProviderInstance, ProviderSettings, owner_mark};
use cairn_tests::ports::free_port;
use cairn_tests::scaffold::{self, Language};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The fake service's token.
const TOKEN: &str = "bench-token-5e0b";

/// Entries the no-change plan compares.
const ENTRIES: usize = 1_000;

/// Loads from the compiled-code cache timed; the median is reported.
const CACHED_LOADS: usize = 5;

/// Trivial calls timed (after as many to warm up); the median is reported.
const TRIVIAL_CALLS: usize = 200;

/// No-change plans timed (after one to warm up); the median is reported.
const PLANS: usize = 5;

/// What one language's provider costs.
pub struct Figures {
    /// The language.
    pub language: Language,
    /// The component's bytes.
    pub size: u64,
    /// One compile of it, without a cache.
    pub compile: Duration,
    /// Its load from the compiled-code cache (median).
    pub cached_load: Duration,
    /// A fresh store, instance and a `validate` of nothing (median).
    pub trivial_call: Duration,
    /// validate + list + diff of 1,000 unchanged entries (median).
    pub no_change_plan: Duration,
    /// Of that plan, each call: validate, list, diff (medians).
    pub phases: [Duration; 3],
}

/// The fake service of the scaffolds, stopped when dropped.
struct FakeService(Child);

impl Drop for FakeService {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Measures each language in turn.
pub async fn side_by_side() -> anyhow::Result<Vec<Figures>> {
    let dir = tempfile::tempdir()?;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut figures = Vec::new();
    for language in Language::ALL {
        let name = format!("kv-{}", language.flag());
        let folder = scaffold::new(dir.path(), &name, language);
        let plugin = scaffold::build(&folder, &name, language);
        let service = start_service(&folder, port)?;
        fill(&url, &owner_mark("bench", "kv"))?;
        figures.push(measure(language, &plugin, &url, dir.path()).await?);
        drop(service);
    }
    Ok(figures)
}

fn start_service(folder: &std::path::Path, port: u16) -> anyhow::Result<FakeService> {
    let mut child = Command::new("python3")
        .arg(folder.join("fake_server.py"))
        .args(["--port", &port.to_string(), "--token", TOKEN])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    anyhow::ensure!(
        line.starts_with("listening"),
        "the fake service said {line:?}"
    );
    Ok(FakeService(child))
}

/// Puts the entries the plan then finds unchanged, marked as the bench
/// tenant's.
fn fill(url: &str, mark: &str) -> anyhow::Result<()> {
    let agent = cairn_tests::http_agent(Duration::from_secs(10));
    for index in 0..ENTRIES {
        let key = entry_key(index);
        let body = json!({"key": key, "value": "v", "made_by": mark}).to_string();
        let request = ureq::http::Request::builder()
            .method("PUT")
            .uri(format!("{url}/entries/{key}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(body)?;
        let status = agent.run(request)?.status().as_u16();
        anyhow::ensure!(status < 300, "PUT {key} answered {status}");
    }
    Ok(())
}

fn entry_key(index: usize) -> String {
    format!("entry-{index:04}")
}

async fn measure(
    language: Language,
    plugin: &std::path::Path,
    url: &str,
    scratch: &std::path::Path,
) -> anyhow::Result<Figures> {
    let size = std::fs::metadata(plugin)?.len();
    let started = Instant::now();
    PluginHost::new(None)?.load(plugin, None).await?;
    let compile = started.elapsed();

    let cache_dir = scratch.join(format!("cache-{}", language.flag()));
    let cache = || CompiledCache::open(cache_dir.join("compiled"), &cache_dir.join("key"));
    PluginHost::new(Some(cache()?))?.load(plugin, None).await?;
    let mut loads = Vec::new();
    for _ in 0..CACHED_LOADS {
        let host = PluginHost::new(Some(cache()?))?;
        let started = Instant::now();
        host.load(plugin, None).await?;
        loads.push(started.elapsed());
    }

    let host = PluginHost::new(Some(cache()?))?;
    let loaded = host.load(plugin, None).await?;
    let token = scratch.join("token.secret");
    std::fs::write(&token, TOKEN)?;
    let instance = ProviderInstance::new(
        &host,
        loaded,
        ProviderSettings {
            tenant: "bench".into(),
            name: "kv".into(),
            config: json!({"url": url}),
            secrets: [("token".to_string(), SecretRef::File { file: token })].into(),
            grants: vec![Grant::parse(url)?],
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(60),
            concurrency: Default::default(),
        },
    );
    let mut calls = Vec::new();
    for round in 0..2 * TRIVIAL_CALLS {
        let started = Instant::now();
        instance.validate(&[]).await?;
        if round >= TRIVIAL_CALLS {
            calls.push(started.elapsed());
        }
    }

    let specs: Vec<(String, Value)> = (0..ENTRIES)
        .map(|index| {
            (
                "entry".to_string(),
                json!({"key": entry_key(index), "value": "v"}),
            )
        })
        .collect();
    let mut plans = Vec::new();
    let mut phases: [Vec<Duration>; 3] = Default::default();
    for round in 0..=PLANS {
        let started = Instant::now();
        let (changes, timed) = no_change_plan(&instance, &specs).await?;
        if round > 0 {
            plans.push(started.elapsed());
            for (samples, sample) in phases.iter_mut().zip(timed) {
                samples.push(sample);
            }
        }
        anyhow::ensure!(
            changes == 0,
            "{language:?}: the plan of unchanged entries has {changes} change(s)"
        );
    }
    Ok(Figures {
        language,
        size,
        compile,
        cached_load: super::median(loads),
        trivial_call: super::median(calls),
        no_change_plan: super::median(plans),
        phases: phases.map(super::median),
    })
}

/// The plugin calls of a plan: validate every spec, list the objects, diff
/// each against its observed state. Returns the changes that are not
/// no-ops, and how long each call took.
async fn no_change_plan(
    instance: &ProviderInstance,
    specs: &[(String, Value)],
) -> anyhow::Result<(usize, [Duration; 3])> {
    let started = Instant::now();
    let validations = instance.validate(specs).await?;
    let validated = started.elapsed();
    let canonical: Vec<Value> = validations
        .into_iter()
        .map(|v| {
            v.canonical
                .ok_or_else(|| anyhow::anyhow!("a spec was refused"))
        })
        .collect::<anyhow::Result<_>>()?;
    let ids: Vec<String> = canonical
        .iter()
        .map(|spec| spec["key"].as_str().unwrap_or_default().to_string())
        .collect();
    let started = Instant::now();
    let observed = instance.list(vec!["entry".into()], ids.clone()).await?;
    let listed = started.elapsed();
    let by_id: std::collections::HashMap<&str, &Value> =
        observed.iter().map(|o| (o.id.as_str(), &o.state)).collect();
    let inputs: Vec<DiffInput> = canonical
        .into_iter()
        .zip(&ids)
        .map(|(spec, id)| DiffInput {
            type_name: "entry".into(),
            id: id.clone(),
            desired: Some(spec),
            observed: by_id.get(id.as_str()).map(|state| (*state).clone()),
            prior: None,
            halt: false,
        })
        .collect();
    let started = Instant::now();
    let changes = instance.diff(&inputs, &[]).await?;
    let diffed = started.elapsed();
    let made = changes
        .iter()
        .filter(|c| c.action != cairn::contract::Action::NoOp)
        .count();
    Ok((made, [validated, listed, diffed]))
}
