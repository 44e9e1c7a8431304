//! A tenant's input is bounded before the work happens: a commit declaring
//! far more resources (or TOML values) than its quota is refused with the
//! quota's error while its files are counted, before they are parsed or
//! sent to a plugin, and the command's memory stays small; manifests named
//! by many resources are read and parsed once, and their bytes count once
//! toward `quotas.manifest_bytes`.
//!
//! Each test prints the peak resident memory of the `cairn` process it
//! measures; the README quotes them.

use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use std::fmt::Write as _;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// The peak memory the command may reach while refusing a million
/// resources (or twenty million values): a few times what it takes to read
/// the commit's 30 MB (40 MB) of text. (Before files were counted before
/// they are parsed, the same commands reached 2,287 MiB (3,800 MiB) and
/// ended with the plugin's memory error.)
const MILLION_RESOURCES_PEAK: u64 = 256 << 20;

/// The peak memory the command may reach while validating eight resources
/// that each name the same three manifests of 3.9 MiB. (Before manifests
/// were parsed once and shared, it reached 2,493 MiB.)
const SHARED_MANIFESTS_PEAK: u64 = 384 << 20;

/// `[[dns.zone]]` tables, `count` of them from `first`, one per header.
fn zones(first: usize, count: usize) -> String {
    let mut text = String::with_capacity(count * 32);
    for number in first..first + count {
        writeln!(text, "[[dns.zone]]\nname = \"z{number}.example.\"").unwrap();
    }
    text
}

#[test]
fn a_million_resources_stop_at_the_quota_with_bounded_memory() {
    let ws = Workspace::new();

    // A million empty resources in one 3 MB file: the cheapest TOML there
    // is per resource, and a million tables for a parser to build.
    let mut flood = String::from("dns.zone = [");
    flood.push_str(&"{},".repeat(1_000_000));
    flood.push_str("]\n");
    ws.repo.write("zones/flood.toml", &flood);
    ws.repo.commit("a million empty resources", AUTHOR);
    let (output, peak) = ws.cairn_peak_memory(&["plan"]);
    eprintln!(
        "cairn plan of 1,000,000 resources in one file: peak memory {} MiB",
        peak >> 20
    );
    output
        .expect_code(1)
        .expect_contains("quota exceeded: the number of resources")
        .expect_contains("is 1000000, more than `quotas.resources = 100000` allows")
        // The 100,001st is the file's 100,001st `{}`.
        .expect_contains(&format!("zones/flood.toml:1:{}", 13 + 3 * 100_000))
        .expect_contains("raise `quotas.resources`");
    assert!(
        !output.all().contains("memory limit"),
        "the plugin ran: {}",
        output.all()
    );
    assert!(
        peak < MILLION_RESOURCES_PEAK,
        "cairn plan reached {} MiB refusing a million resources",
        peak >> 20
    );

    // The same million, as people write them: ten files of 100,000
    // `[[dns.zone]]` tables each, the first of them exactly at the quota.
    ws.repo.remove("zones/flood.toml");
    for file in 0..10 {
        ws.repo.write(
            &format!("zones/{file:02}.toml"),
            &zones(file * 100_000, 100_000),
        );
    }
    ws.repo.commit("a million zones in ten files", AUTHOR);
    let (output, peak) = ws.cairn_peak_memory(&["plan"]);
    eprintln!(
        "cairn plan of 1,000,000 resources in ten files: peak memory {} MiB",
        peak >> 20
    );
    output
        .expect_code(1)
        .expect_contains("is 1000000, more than `quotas.resources = 100000` allows")
        .expect_contains("zones/01.toml:1:1");
    assert!(
        peak < MILLION_RESOURCES_PEAK,
        "cairn plan reached {} MiB refusing a million resources",
        peak >> 20
    );

    // Ten resources, each with an array of two million entries (4 MB a
    // file): within the resources quota, but not the values one.
    for file in 0..10 {
        ws.repo.write(
            &format!("zones/{file:02}.toml"),
            &format!(
                "[[dns.zone]]\nname = \"a{file}.example.\"\nx = [{}]\n",
                "1,".repeat(1_999_997)
            ),
        );
    }
    ws.repo
        .commit("ten resources of two million values", AUTHOR);
    let (output, peak) = ws.cairn_peak_memory(&["plan"]);
    eprintln!(
        "cairn plan of 20,000,000 values in ten resources: peak memory {} MiB",
        peak >> 20
    );
    output
        .expect_code(1)
        .expect_contains("quota exceeded: the number of TOML values in the resource files")
        .expect_contains("is 20000000, more than `quotas.values = 1000000` allows")
        .expect_contains("zones/00.toml:3:")
        .expect_contains("raise `quotas.values`");
    assert!(
        peak < MILLION_RESOURCES_PEAK,
        "cairn plan reached {} MiB refusing twenty million values",
        peak >> 20
    );

    // At the quota exactly, the commit is read and validated.
    ws.repo.write("zones/00.toml", &zones(0, 100_000));
    for file in 1..10 {
        ws.repo.remove(&format!("zones/{file:02}.toml"));
    }
    ws.repo.commit("a hundred thousand zones", AUTHOR);
    let (output, peak) = ws.cairn_peak_memory(&["validate"]);
    eprintln!(
        "cairn validate of 100,000 resources (the default quota): peak memory {} MiB",
        peak >> 20
    );
    output
        .expect_code(0)
        .expect_contains("is valid: 100000 resource(s)");
}

/// `cairn.toml` with the workspace's tenant, a Kubernetes provider `k8s`
/// whose server is never reached (`cairn validate` makes no request), and
/// more `quotas`.
fn configure_kubernetes(ws: &Workspace, memory: &str, quotas: &str) {
    let token = ws.path().join("token.secret");
    std::fs::write(&token, "unused").unwrap();
    let plugin = cairn_tests::plugin_path("cluster_kubernetes");
    let text = format!(
        r#"{header}
{tenant}
[tenants.default.providers.k8s]
plugin = {plugin:?}
allow = ["https://127.0.0.1:9"]
memory = {memory:?}
config = {{ url = "https://127.0.0.1:9", tenant = "default", instance = "k8s" }}
secrets = {{ token = {{ file = {token:?} }} }}

[tenants.default.quotas]
{quotas}
"#,
        header = config_header(),
        tenant = ws.tenant_block("default", &ConfigOptions::default()),
        plugin = plugin.display().to_string(),
        token = token.display().to_string(),
    );
    std::fs::write(ws.config_path(), text).unwrap();
}

/// A manifest of ConfigMaps named `PREFIX-N` with `keys` small entries
/// each, at least `bytes` long.
fn manifest(prefix: &str, keys: usize, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 4096);
    let mut number = 0;
    while text.len() < bytes {
        write!(
            text,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {prefix}-{number}\n  namespace: shop\ndata:\n"
        )
        .unwrap();
        for key in 0..keys {
            writeln!(text, "  k{key}: \"v{key}\"").unwrap();
        }
        number += 1;
    }
    text
}

/// Eight `[[k8s.manifests]]` resources naming every manifest.
fn eight_sets() -> String {
    (0..8)
        .map(|set| {
            format!("[[k8s.manifests]]\nname = \"set{set}\"\nfiles = [\"manifests/*.yaml\"]\n\n")
        })
        .collect()
}

#[test]
fn manifests_named_by_many_resources_count_once_toward_their_quota() {
    let ws = Workspace::new();
    // Three manifests of 512 KiB, each named by eight resources: 1.5 MiB
    // read once, where eight readings would be 12 MiB.
    for file in 0..3 {
        ws.repo.write(
            &format!("cluster/manifests/{file}.yaml"),
            &manifest(&format!("f{file}"), 64, 512 << 10),
        );
    }
    ws.repo.write("cluster/sets.toml", &eight_sets());
    ws.repo.commit("eight sets of three manifests", AUTHOR);
    let read: usize = (0..3)
        .map(|file| {
            std::fs::metadata(
                ws.repo
                    .path()
                    .join(format!("cluster/manifests/{file}.yaml")),
            )
            .unwrap()
            .len() as usize
        })
        .sum();

    configure_kubernetes(&ws, "256MiB", "manifest_bytes = \"2MiB\"");
    ws.cairn(&["validate"])
        .expect_code(0)
        .expect_contains("is valid: 8 resource(s)");

    configure_kubernetes(&ws, "256MiB", "manifest_bytes = \"1MiB\"");
    ws.cairn(&["validate"])
        .expect_code(1)
        .expect_contains(&format!(
            "quota exceeded: the size of the manifests resources name at commit {}",
            &ws.repo.head()[..12]
        ))
        .expect_contains(&format!(
            "is {read}, more than `quotas.manifest_bytes = 1048576` allows"
        ))
        // The first manifest over the quota, and the resource naming it.
        .expect_contains("cluster/manifests/1.yaml, named at cluster/sets.toml:3:")
        .expect_contains("raise `quotas.manifest_bytes`");
}

#[test]
fn large_manifests_named_by_many_resources_are_parsed_once() {
    let ws = Workspace::new();
    // The shape of the report: three manifests of 3.9 MiB (just under the
    // 4 MiB a file may have), each named by eight resources, within every
    // default quota.
    for file in 0..3 {
        ws.repo.write(
            &format!("cluster/manifests/{file}.yaml"),
            &manifest(&format!("f{file}"), 200, 3_900 << 10),
        );
    }
    ws.repo.write("cluster/sets.toml", &eight_sets());
    ws.repo
        .commit("eight sets of three large manifests", AUTHOR);
    configure_kubernetes(&ws, "64MiB", "");
    let (output, peak) = ws.cairn_peak_memory(&["validate"]);
    eprintln!(
        "cairn validate of 8 resources naming 3 manifests of 3.9 MiB: peak memory {} MiB",
        peak >> 20
    );
    // Each resource carries its documents to the plugin, so the eight come
    // to more than its 64 MiB can hold: refused before a byte is sent,
    // saying so at the resource that goes over.
    output
        .expect_code(1)
        .expect_contains("cluster/sets.toml:")
        .expect_contains("more than its memory of 64 MiB");
    assert!(
        peak < SHARED_MANIFESTS_PEAK,
        "cairn validate reached {} MiB with three manifests named eight times",
        peak >> 20
    );
}
