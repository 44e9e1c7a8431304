//! In-process micro-benchmarks (Criterion): the pieces every plan pays for.
//! Run with `cargo bench -p cairn-tests --bench micro` (the host benchmark
//! loads the PowerDNS plugin, which `tests/build.rs` builds).

use cairn::host::{PluginHost, ProviderInstance, ProviderSettings};
use cairn::model::diagnostic::FileText;
use cairn::model::parse::parse_file;
use cairn::source::Source;
use cairn_tests::GitRepo;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

/// Resources in the parsed file.
const PARSED_RESOURCES: usize = 1_000;
/// Files in the repository whose tree is read.
const REPOSITORY_FILES: usize = 2_000;

/// Record number `index`: its name is its own, so its text is too.
fn record(index: usize) -> String {
    format!(
        "[[dns.record]]\nname = \"r{index}.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.{}\"]\nttl = 300\n\n",
        index % 250
    )
}

fn records(count: usize) -> String {
    (0..count).map(record).collect()
}

/// Parsing one resource file into specs with the place of every field.
fn parse(c: &mut Criterion) {
    let file = FileText::new("records.toml", records(PARSED_RESOURCES));
    c.bench_function(&format!("parse {PARSED_RESOURCES} resources"), |b| {
        b.iter(|| parse_file(black_box(&file)).expect("valid TOML"))
    });
}

/// A fresh sandbox, instantiation and one trivial call of a real plugin.
fn plugin_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let host = PluginHost::new(None).expect("a plugin host");
    let plugin = runtime
        .block_on(host.load(&cairn_tests::plugin_path("dns_powerdns"), None))
        .expect("the PowerDNS plugin loads");
    let instance = ProviderInstance::new(
        &host,
        plugin,
        ProviderSettings {
            tenant: "bench".into(),
            name: "dns".into(),
            config: serde_json::json!({}),
            secrets: Default::default(),
            grants: Vec::new(),
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            concurrency: Default::default(),
        },
    );
    c.bench_function(
        "plugin call: fresh store + instantiate + validate([])",
        |b| {
            b.to_async(&runtime)
                .iter(|| async { instance.validate(&[]).await.expect("validate") })
        },
    );
}

/// Reading a commit of many files: its tree and every text, or only its
/// tree (every blob known to the model cache). Each file holds a record of
/// its own, so the commit has as many blobs as files: identical files would
/// share one blob, and "every file" would read a single object. Each read
/// is a source's first, as a process makes it (the repository opened, no
/// last listing to start from): a source that read the commit before
/// lists it again for almost nothing.
fn read_commit(c: &mut Criterion) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let repo = GitRepo::init(&folder.path().join("repo"));
    for i in 0..REPOSITORY_FILES {
        repo.write(&format!("records/r{i}.toml"), &record(i));
    }
    repo.commit("many files", "Bench <bench@cairn.invalid>");
    let source = || {
        Source::new(
            &repo.path().display().to_string(),
            "main",
            ".",
            &folder.path().join("cache"),
        )
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let listed = runtime
        .block_on(source().snapshot())
        .expect("the commit reads");
    let blobs: HashSet<&str> = listed.files.iter().map(|f| f.blob.as_str()).collect();
    assert_eq!(
        blobs.len(),
        REPOSITORY_FILES,
        "every file a blob of its own"
    );
    let mut group = c.benchmark_group(format!("read a commit of {REPOSITORY_FILES} files"));
    for (name, every_text) in [("every file", true), ("tree only", false)] {
        group.bench_with_input(
            BenchmarkId::from_parameter(name),
            &every_text,
            |b, &every_text| {
                b.to_async(&runtime).iter(|| async {
                    let snapshot = source().snapshot().await.expect("the commit reads");
                    if every_text {
                        snapshot
                            .read_texts(snapshot.files.iter())
                            .await
                            .expect("the texts read");
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = micro;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = parse, plugin_call, read_commit
}
criterion_main!(micro);
