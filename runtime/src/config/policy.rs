//! `[[policies]]` (every tenant's) and `[[tenants.NAME.policies]]` (one
//! tenant's): the policy components that check each plan, chosen by the
//! operator. A tenant's repository cannot switch one off: the file is the
//! operator's.

use super::error::{Invalid, ProviderProblem};
use super::values::is_valid_name;
use super::{ProviderConfig, RawGrant, RawProvider};
use crate::host::grants::Grant;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a policy's `error` findings do to a plan (Sentinel's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    /// Reported; never blocks.
    Advisory,
    /// Blocks the plan, unless an operator overrides it for one plan
    /// (`cairn apply --override-policy ID --reason TEXT`), which is
    /// recorded with who and why.
    SoftMandatory,
    /// Blocks the plan; no override.
    Mandatory,
}

impl Enforcement {
    /// The word written in `cairn.toml` and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Advisory => "advisory",
            Self::SoftMandatory => "soft-mandatory",
            Self::Mandatory => "mandatory",
        }
    }

    /// Whether its `error` findings block a plan.
    pub fn blocks(self) -> bool {
        self != Self::Advisory
    }
}

/// A policy as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    id: String,
    plugin: String,
    sha256: String,
    enforcement: Enforcement,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    config: Option<toml::Table>,
    #[serde(default)]
    allow: Vec<RawGrant>,
    #[serde(default)]
    memory: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
}

/// A file the operator names for a policy (Rego rules, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// The path as written, shown in messages and handed to the policy.
    pub name: String,
    /// The absolute path, read when the tenant opens.
    pub path: PathBuf,
}

/// One policy that checks a tenant's plans.
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    /// Its id, unique among the tenant's policies: what findings and
    /// overrides name.
    pub id: String,
    /// Whether it is one of `[[policies]]`, which every tenant has.
    pub shared: bool,
    /// The component's `.wasm` file.
    pub plugin: PathBuf,
    /// The component's required sha256, lower-case hex: a policy is
    /// always pinned.
    pub sha256: String,
    /// What its `error` findings do.
    pub enforcement: Enforcement,
    /// Files handed to it (a policy has no filesystem).
    pub files: Vec<PolicyFile>,
    /// Its configuration, as JSON.
    pub config: serde_json::Value,
    /// Network grants: none unless given.
    pub allow: Vec<Grant>,
    /// The most linear memory one call may use.
    pub memory: u64,
    /// The longest one call may take.
    pub timeout: Duration,
}

/// What is wrong with one policy's settings.
#[derive(Debug, thiserror::Error)]
pub enum PolicyProblem {
    /// The id cannot be named in findings and overrides.
    #[error("id = \"{id}\" may hold only letters, digits, `-` and `_`")]
    Id {
        /// The id.
        id: String,
    },
    /// Two policies of one tenant share an id.
    #[error(
        "id = \"{id}\" is taken by another policy of this tenant (shared ones included): give each its own"
    )]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// A rule file does not exist or cannot be read.
    #[error("files: cannot read {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox settings (pin, grants, memory, timeout, config).
    #[error(transparent)]
    Sandbox(#[from] ProviderProblem),
}

impl RawPolicy {
    /// The policy, its paths made absolute from `base`; `shared` for one
    /// of `[[policies]]`.
    pub(super) fn resolve(self, base: &Path, shared: bool) -> Result<PolicyConfig, PolicyProblem> {
        if !is_valid_name(&self.id) {
            return Err(PolicyProblem::Id { id: self.id });
        }
        // The sandbox settings are a provider's, checked the same way.
        let sandbox = ProviderConfig::from_raw(
            &self.id,
            RawProvider {
                plugin: self.plugin,
                sha256: Some(self.sha256),
                allow: self.allow,
                memory: self.memory,
                timeout: self.timeout,
                max_concurrency: None,
                adaptive_concurrency: None,
                config: self.config,
                secrets: Default::default(),
            },
            base,
        )?;
        let files = self
            .files
            .into_iter()
            .map(|name| {
                let path = base.join(&name);
                match std::fs::metadata(&path) {
                    Ok(_) => Ok(PolicyFile { name, path }),
                    Err(source) => Err(PolicyProblem::File { path, source }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PolicyConfig {
            id: self.id,
            shared,
            plugin: sandbox.plugin,
            sha256: sandbox.sha256.expect("given above"),
            enforcement: self.enforcement,
            files,
            config: sandbox.config,
            allow: sandbox.allow,
            memory: sandbox.memory,
            timeout: sandbox.timeout,
        })
    }
}

/// A tenant's policies: every shared one, then its own, ids unique.
pub(super) fn of_tenant(
    tenant: &str,
    shared: &[PolicyConfig],
    own: Vec<RawPolicy>,
    base: &Path,
) -> Result<Vec<PolicyConfig>, Invalid> {
    let mut policies = shared.to_vec();
    add(
        &mut policies,
        own,
        base,
        false,
        &format!("[[tenants.{tenant}.policies]]"),
    )?;
    Ok(policies)
}

/// The shared policies of `[[policies]]`, ids unique.
pub(super) fn shared(raw: Vec<RawPolicy>, base: &Path) -> Result<Vec<PolicyConfig>, Invalid> {
    let mut policies = Vec::new();
    add(&mut policies, raw, base, true, "[[policies]]")?;
    Ok(policies)
}

/// Resolves the policies of the array of tables `header` and adds them to
/// `policies`, refusing an id already there.
fn add(
    policies: &mut Vec<PolicyConfig>,
    raw: Vec<RawPolicy>,
    base: &Path,
    shared: bool,
    header: &str,
) -> Result<(), Invalid> {
    for (index, raw) in raw.into_iter().enumerate() {
        let table = || format!("{header} number {}", index + 1);
        let policy = raw
            .resolve(base, shared)
            .map_err(|problem| Invalid::Policy {
                table: table(),
                problem,
            })?;
        if policies.iter().any(|other| other.id == policy.id) {
            return Err(Invalid::Policy {
                table: table(),
                problem: PolicyProblem::DuplicateId { id: policy.id },
            });
        }
        policies.push(policy);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};
    use std::path::Path;

    const PIN: &str = "4b2f0e6c0a5d3e1b7c9f8a6d2e4c1b3a5f7e9d0c2b4a6e8f1d3c5b7a9e0f2d4c";

    fn parse(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse(&dir.join("cairn.toml"), text)
    }

    fn policy(header: &str, id: &str, rest: &str) -> String {
        format!(
            "{header}\nid = \"{id}\"\nplugin = \"rego.wasm\"\nsha256 = \"{PIN}\"\nenforcement = \"mandatory\"\n{rest}\n"
        )
    }

    #[test]
    fn shared_policies_come_first_in_every_tenant() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ttl.rego"), "package ttl\n").unwrap();
        let text = format!(
            "{}[tenants.a]\nrepo = \".\"\n{}[tenants.b]\nrepo = \".\"\n",
            policy("[[policies]]", "ttl", "files = [\"ttl.rego\"]"),
            policy("[[tenants.a.policies]]", "own", ""),
        );
        let config = parse(dir.path(), &text).unwrap();
        let ids = |tenant: &str| -> Vec<(String, bool)> {
            config.tenants[tenant]
                .policies
                .iter()
                .map(|p| (p.id.clone(), p.shared))
                .collect()
        };
        assert_eq!(ids("a"), [("ttl".into(), true), ("own".into(), false)]);
        assert_eq!(ids("b"), [("ttl".into(), true)]);
        let shared = &config.tenants["b"].policies[0];
        assert_eq!(shared.files[0].name, "ttl.rego");
        assert_eq!(shared.files[0].path, dir.path().join("ttl.rego"));
        assert_eq!(shared.enforcement, super::Enforcement::Mandatory);
        assert!(shared.allow.is_empty(), "no network unless granted");
    }

    #[test]
    fn bad_policies_are_refused_naming_their_table() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = "[tenants.a]\nrepo = \".\"\n";
        let cases = [
            (
                format!(
                    "{}{tenant}{}",
                    policy("[[policies]]", "p", ""),
                    policy("[[tenants.a.policies]]", "p", "")
                ),
                "[[tenants.a.policies]] number 1: id = \"p\" is taken by another policy",
            ),
            (
                format!("{}{tenant}", policy("[[policies]]", "p q", "")),
                "[[policies]] number 1: id = \"p q\" may hold only",
            ),
            (
                format!(
                    "{}{tenant}",
                    policy("[[policies]]", "p", "files = [\"missing.rego\"]")
                ),
                "[[policies]] number 1: files: cannot read",
            ),
            (
                format!(
                    "{}{tenant}",
                    policy("[[policies]]", "p", "").replace(PIN, "abc")
                ),
                "[[policies]] number 1: sha256 = \"abc\" is not 64 hexadecimal digits",
            ),
            (
                format!(
                    "{}{tenant}",
                    policy("[[policies]]", "p", "").replace("mandatory", "strict")
                ),
                "unknown variant `strict`, expected one of `advisory`, `soft-mandatory`, `mandatory`",
            ),
            (
                format!(
                    "[[policies]]\nid = \"p\"\nplugin = \"rego.wasm\"\nenforcement = \"advisory\"\n{tenant}"
                ),
                "missing field `sha256`",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(dir.path(), &text).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}\n  got: {error}");
        }
    }
}
