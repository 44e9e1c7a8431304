//! Policies in test configurations: the shipped Rego policy and the
//! hostile test policy, pinned by their sha256 as the operator pins them,
//! and the example rule files of `examples/policies/`.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The sha256 of a file, lower-case hex.
pub fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    hex::encode(Sha256::digest(bytes))
}

/// The shipped Rego policy's build.
pub fn rego_plugin() -> PathBuf {
    crate::plugin_path("policy_rego")
}

/// The example policies' folder (`examples/policies/`).
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies")
}

/// An example rule file of `examples/policies/rules/`.
pub fn example_rule(name: &str) -> PathBuf {
    examples().join("rules").join(name)
}

/// One policy table of `cairn.toml`: `header` is `[[policies]]` or
/// `[[tenants.NAME.policies]]`; `plugin` is pinned by its sha256; `files`
/// are absolute paths; `rest` holds more keys (`config = …`,
/// `timeout = "2s"`).
pub fn policy_table(
    header: &str,
    id: &str,
    plugin: &Path,
    enforcement: &str,
    files: &[PathBuf],
    rest: &str,
) -> String {
    let files: Vec<String> = files
        .iter()
        .map(|file| format!("{:?}", file.display().to_string()))
        .collect();
    format!(
        "\n{header}\nid = {id:?}\nplugin = {:?}\nsha256 = {:?}\nenforcement = {enforcement:?}\nfiles = [{}]\n{rest}\n",
        plugin.display().to_string(),
        sha256_of(plugin),
        files.join(", ")
    )
}

/// A Rego policy of the example rule `rule` (`dns_min_ttl.rego`) with
/// `data` (a TOML inline table's inside).
pub fn rego_table(header: &str, id: &str, enforcement: &str, rule: &str, data: &str) -> String {
    policy_table(
        header,
        id,
        &rego_plugin(),
        enforcement,
        &[example_rule(rule)],
        &format!("config = {{ data = {{ {data} }} }}"),
    )
}
