//! The tenant's policies at work: loaded with the tenant ([`Policies::load`]),
//! shown the desired state, the plan and the commit ([`input`]), run in the
//! sandbox, their answers turned into the findings a plan carries
//! ([`crate::plan::PolicyFinding`]). What the findings do to a plan is
//! decided in `plan/findings.rs`; this module only runs the policies.
//!
//! A policy that cannot evaluate — its own error, a trap, a timeout, a
//! rule file with a syntax error — fails closed: its failure becomes an
//! `error` finding of the policy (rule [`POLICY_FAILED_RULE`]), which blocks
//! the plan wherever the policy's findings would.

pub mod input;

use crate::config::{Enforcement, PolicyConfig, TenantConfig};
use crate::host::{PluginError, PluginHost, PolicyInstance, PolicySandbox};
use crate::model::DesiredState;
use crate::plan::{Plan, PolicyFinding, findings};
use cairn_contract::{Finding, PolicyInput, PolicySettings, RuleFile};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The rule of the finding that stands for a policy's failure to
/// evaluate.
pub const POLICY_FAILED_RULE: &str = "policy-failed";

/// The most bytes of rule files one policy may be handed: the host holds
/// them and copies them into every call, and Rego rules a team writes by
/// hand run to kilobytes, not megabytes.
pub const MAX_RULE_FILE_BYTES: u64 = 4 << 20;

/// The most findings one policy may report in one call: enough for a
/// finding on every resource of a large tenant, and a bound on what a
/// plan, its checksum and the history hold for a policy gone wrong.
pub const MAX_FINDINGS_PER_POLICY: usize = 10_000;

/// One policy of the tenant, ready to run.
#[derive(Debug)]
struct LoadedPolicy {
    config: PolicyConfig,
    instance: PolicyInstance,
    settings: PolicySettings,
}

/// The policies of one tenant.
#[derive(Debug, Default, Clone)]
pub struct Policies {
    loaded: Arc<Vec<LoadedPolicy>>,
    digest: String,
}

/// A policy of a tenant could not be set up: the tenant does not load,
/// since its plans would go unchecked.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// Its component could not be loaded.
    #[error("policy `{policy}`: {source}")]
    Plugin {
        /// The policy's id.
        policy: String,
        /// Why (boxed: the error stays small for the callers that pass it
        /// on).
        #[source]
        source: Box<PluginError>,
    },
    /// A rule file could not be read.
    #[error("policy `{policy}`: cannot read {path}: {source}")]
    File {
        /// The policy's id.
        policy: String,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Its rule files are larger than a policy may be handed.
    #[error(
        "policy `{policy}`: its files hold {} KiB, more than the {} KiB a policy is handed",
        .bytes >> 10,
        MAX_RULE_FILE_BYTES >> 10
    )]
    FilesTooLarge {
        /// The policy's id.
        policy: String,
        /// The files' size.
        bytes: u64,
    },
    /// Its `config` does not match the policy's config schema.
    #[error(
        "policy `{policy}`: config does not match what the policy accepts: {}",
        .problems.join("; ")
    )]
    Config {
        /// The policy's id.
        policy: String,
        /// Each problem.
        problems: Vec<String>,
    },
}

impl Policies {
    /// Loads the tenant's policies: each component (pinned), its config
    /// checked against its schema, its files read.
    pub async fn load(host: &PluginHost, tenant: &TenantConfig) -> Result<Self, PolicyLoadError> {
        let mut loaded = Vec::with_capacity(tenant.policies.len());
        let mut digest = Sha256::new();
        for config in &tenant.policies {
            let policy = config.id.clone();
            let plugin = host
                .load_policy(&tenant.name, &config.plugin, Some(&config.sha256))
                .await
                .map_err(|source| PolicyLoadError::Plugin {
                    policy: policy.clone(),
                    source: Box::new(source),
                })?;
            let problems =
                crate::config::schema::problems(&config.config, &plugin.info().config_schema);
            if !problems.is_empty() {
                return Err(PolicyLoadError::Config { policy, problems });
            }
            let files = read_files(config)?;
            let settings = PolicySettings {
                config: config.config.clone(),
                files,
            };
            digest.update(policy.as_bytes());
            digest.update([0]);
            digest.update(config.enforcement.as_str());
            digest.update([0]);
            digest.update(plugin.sha256());
            digest.update([0]);
            digest.update(serde_json::to_string(&settings).expect("settings serialize"));
            digest.update([0]);
            let instance = PolicyInstance::new(
                host,
                plugin,
                PolicySandbox {
                    tenant: tenant.name.clone(),
                    id: config.id.clone(),
                    grants: config.allow.clone(),
                    memory_bytes: config.memory,
                    timeout: config.timeout,
                },
            );
            loaded.push(LoadedPolicy {
                config: config.clone(),
                instance,
                settings,
            });
        }
        Ok(Self {
            digest: match loaded.is_empty() {
                true => String::new(),
                false => hex::encode(digest.finalize()),
            },
            loaded: Arc::new(loaded),
        })
    }

    /// Whether the tenant has no policy.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
    }

    /// The ids of the tenant's policies with their enforcement levels.
    pub fn levels(&self) -> BTreeMap<String, Enforcement> {
        self.loaded
            .iter()
            .map(|policy| (policy.config.id.clone(), policy.config.enforcement))
            .collect()
    }

    /// A digest of everything that decides what the policies find but the
    /// input: each component, its enforcement level, config and files.
    /// Empty without policies.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Runs every policy on `input`, at once, and returns their findings
    /// sorted ([`findings::sort`]); a policy that fails gives one `error`
    /// finding that says why.
    pub async fn evaluate(&self, input: &PolicyInput) -> Vec<PolicyFinding> {
        let runs = self.loaded.iter().map(|policy| async move {
            let outcome = policy.instance.evaluate(&policy.settings, input).await;
            of_outcome(&policy.config, outcome)
        });
        let mut found: Vec<PolicyFinding> = futures::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        findings::sort(&mut found);
        found
    }
}

/// Has the tenant's policies check `plan` (or, with `plan` `None`, the
/// desired state alone): their findings, sorted.
pub async fn check(
    tenant: &crate::tenant::Tenant,
    desired: &DesiredState,
    plan: Option<&Plan>,
) -> Vec<PolicyFinding> {
    if tenant.policies.is_empty() {
        return Vec::new();
    }
    let input = input::of_state(tenant, desired, plan);
    tenant.policies.evaluate(&input).await
}

/// A policy's findings, or the finding that stands for its failure.
fn of_outcome(
    config: &PolicyConfig,
    outcome: Result<Vec<Finding>, PluginError>,
) -> Vec<PolicyFinding> {
    let finding = |finding| PolicyFinding {
        policy: config.id.clone(),
        enforcement: config.enforcement,
        finding,
    };
    match outcome {
        Ok(found) if found.len() > MAX_FINDINGS_PER_POLICY => vec![finding(
            Finding::error(
                POLICY_FAILED_RULE,
                format!(
                    "policy `{}` reported {} findings, more than the {MAX_FINDINGS_PER_POLICY} one policy may report; they were dropped",
                    config.id,
                    found.len()
                ),
            )
            .with_help("fix the policy, or what it finds, so that it reports fewer"),
        )],
        Ok(found) => found.into_iter().map(finding).collect(),
        Err(error) => {
            let help = match &error {
                PluginError::Policy { error, .. } if error.file.is_some() => {
                    "fix the rule file named, then plan again"
                }
                _ => "the plan is blocked where this policy's findings would block it; fix the policy or its settings in cairn.toml",
            };
            vec![finding(
                Finding::error(POLICY_FAILED_RULE, error.to_string()).with_help(help),
            )]
        }
    }
}

/// The policy's files, read, within [`MAX_RULE_FILE_BYTES`].
fn read_files(config: &PolicyConfig) -> Result<Vec<RuleFile>, PolicyLoadError> {
    let mut total = 0u64;
    let mut files = Vec::with_capacity(config.files.len());
    for file in &config.files {
        let unreadable = |source| PolicyLoadError::File {
            policy: config.id.clone(),
            path: file.path.clone(),
            source,
        };
        total += std::fs::metadata(&file.path).map_err(unreadable)?.len();
        if total > MAX_RULE_FILE_BYTES {
            return Err(PolicyLoadError::FilesTooLarge {
                policy: config.id.clone(),
                bytes: total,
            });
        }
        files.push(RuleFile {
            name: file.name.clone(),
            text: std::fs::read_to_string(&file.path).map_err(unreadable)?,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_contract::{FindingSeverity, PolicyError, PolicyErrorKind};

    fn config(enforcement: Enforcement) -> PolicyConfig {
        PolicyConfig {
            id: "ttl".into(),
            shared: true,
            plugin: "rego.wasm".into(),
            sha256: "0".repeat(64),
            enforcement,
            files: Vec::new(),
            config: serde_json::json!({}),
            allow: Vec::new(),
            memory: 64 << 20,
            timeout: std::time::Duration::from_secs(30),
        }
    }

    #[test]
    fn a_policy_that_cannot_evaluate_fails_closed() {
        let rules = PluginError::Policy {
            policy: "ttl".into(),
            error: PolicyError::new(PolicyErrorKind::InvalidRules, "unexpected end of file")
                .in_file("rules/ttl.rego", Some(9)),
        };
        let found = of_outcome(&config(Enforcement::Mandatory), Err(rules));
        assert_eq!(found.len(), 1);
        assert!(found[0].blocks());
        assert_eq!(found[0].finding.rule, POLICY_FAILED_RULE);
        assert_eq!(
            found[0].finding.message,
            "policy `ttl` could not evaluate: rules/ttl.rego:9: unexpected end of file (invalid-rules)"
        );
        assert_eq!(
            found[0].finding.help.as_deref(),
            Some("fix the rule file named, then plan again")
        );
        let timeout = PluginError::Timeout {
            provider: "policy:ttl".into(),
            function: "evaluate",
            timeout: std::time::Duration::from_secs(2),
        };
        let found = of_outcome(&config(Enforcement::Advisory), Err(timeout));
        assert!(
            !found[0].blocks(),
            "an advisory policy's failure is reported"
        );
        assert!(
            found[0]
                .finding
                .message
                .starts_with("policy `ttl` did not finish `evaluate` within 2s"),
            "{}",
            found[0].finding.message
        );
    }

    #[test]
    fn too_many_findings_are_one_error() {
        let many = (0..=MAX_FINDINGS_PER_POLICY)
            .map(|index| Finding::warning("flood", format!("{index}")))
            .collect();
        let found = of_outcome(&config(Enforcement::SoftMandatory), Ok(many));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].finding.severity, FindingSeverity::Error);
        assert!(found[0].blocks());
        let few = vec![Finding::warning("low-ttl", "60 s")];
        let found = of_outcome(&config(Enforcement::SoftMandatory), Ok(few));
        assert_eq!(found[0].policy, "ttl");
        assert_eq!(found[0].enforcement, Enforcement::SoftMandatory);
        assert!(!found[0].blocks());
    }
}
