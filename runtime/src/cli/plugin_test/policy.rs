//! `cairn plugin test` of a policy: the conformance file of a policy
//! (`[policy]` instead of `[provider]`) and the rules a policy is held to.
//! The author gives cases — an input, as `cairn plan --policy-input`
//! writes it, and the findings expected — and the runner evaluates each in
//! the real sandbox, as `conftest verify` runs a policy's own tests.

use super::rules::Rule;
use super::runner::{Check, Verdict};
use anyhow::{Context, bail};
use cairn::contract::{
    Finding, FindingSeverity, PolicyCommit, PolicyErrorKind, PolicyInput, PolicySettings, RuleFile,
};
use cairn::host::{PluginError, PluginHost, PolicyInstance, PolicySandbox, limits};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConformance {
    /// The policy's `.wasm` file, relative to the conformance file.
    pub plugin: PathBuf,
    /// How the operator would configure it.
    pub policy: PolicyTable,
    /// The inputs and what the policy must find in each.
    pub cases: Vec<Case>,
    /// The file's folder: inputs and rule files are relative to it.
    #[serde(skip)]
    pub folder: PathBuf,
}

/// The policy as in `cairn.toml`'s `[[policies]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyTable {
    /// Its configuration.
    #[serde(default = "empty_object")]
    pub config: Value,
    /// Files handed to it, relative to the conformance file.
    #[serde(default)]
    pub files: Vec<String>,
    /// A configuration `evaluate` must refuse with `invalid-config`.
    #[serde(default)]
    pub bad_config: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// One case: an input and the findings expected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it shows, in reports.
    pub name: String,
    /// A JSON file of the input, relative to the conformance file.
    pub input: String,
    /// The findings expected, exactly: each matches one finding on its
    /// rule and severity, and on its address and field when given.
    #[serde(default)]
    pub expect: Vec<Expected>,
    /// The kind of error `evaluate` must fail with instead
    /// (`invalid-rules`, `invalid-config`, `internal`).
    #[serde(default)]
    pub expect_error: Option<PolicyErrorKind>,
    /// Files handed to the policy in this case instead of `[policy]
    /// files` (a rule file with a syntax error, say).
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

/// A finding a case expects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Its rule.
    pub rule: String,
    /// Its severity.
    pub severity: FindingSeverity,
    /// Its address, when it must have this one.
    #[serde(default)]
    pub address: Option<String>,
    /// Its field, when it must have this one.
    #[serde(default)]
    pub field: Option<String>,
}

impl Expected {
    fn matches(&self, finding: &Finding) -> bool {
        finding.rule == self.rule
            && finding.severity == self.severity
            && self
                .address
                .as_ref()
                .is_none_or(|address| finding.address.as_ref() == Some(address))
            && self
                .field
                .as_ref()
                .is_none_or(|field| finding.field.as_ref() == Some(field))
    }
}

/// Whether the TOML text is a policy's conformance file.
pub fn is_policy_file(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|table| table.contains_key("policy"))
}

impl PolicyConformance {
    /// Parses the file read from `path`.
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Self> {
        let mut file: Self = toml::from_str(text).map_err(|error| {
            anyhow::anyhow!("{}: not a conformance file: {error}", path.display())
        })?;
        if file.cases.is_empty() {
            bail!(
                "{}: give at least one `[[cases]]` with an input and the findings expected",
                path.display()
            );
        }
        let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        file.plugin = folder.join(&file.plugin);
        file.folder = folder;
        Ok(file)
    }

    fn read_files(&self, names: &[String]) -> anyhow::Result<Vec<RuleFile>> {
        names
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.folder.join(name))
                    .with_context(|| format!("cannot read the rule file {name}"))?;
                Ok(RuleFile {
                    name: name.clone(),
                    text,
                })
            })
            .collect()
    }

    fn read_input(&self, case: &Case) -> anyhow::Result<PolicyInput> {
        let path = self.folder.join(&case.input);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("case `{}`: cannot read {}", case.name, path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "case `{}`: {} is not a policy input (write one with `cairn plan --policy-input FILE`)",
                case.name,
                path.display()
            )
        })
    }
}

/// Runs every rule of a policy.
pub async fn run(host: &PluginHost, file: &PolicyConformance) -> anyhow::Result<Vec<Check>> {
    let mut checks = Vec::new();
    let mut check = |rule, verdict, detail: String| {
        checks.push(Check {
            rule,
            verdict,
            detail,
        })
    };
    let plugin = match host.load_policy("-", &file.plugin, None).await {
        Ok(plugin) => plugin,
        Err(error) => {
            check(Rule::PolicyDescribe, Verdict::Fail, error.to_string());
            return Ok(checks);
        }
    };
    let info = plugin.info().clone();
    let mut problems = Vec::new();
    if let Err(error) = cairn::host::json_schema::compile(&info.config_schema) {
        problems.push(format!("its config schema does not compile: {error}"));
    }
    let version_parts: Vec<&str> = info.version.split('.').collect();
    if version_parts.len() != 3 || version_parts.iter().any(|p| p.parse::<u64>().is_err()) {
        problems.push(format!(
            "version `{}` is not MAJOR.MINOR.PATCH",
            info.version
        ));
    }
    problems.extend(
        cairn::config::schema::problems(&file.policy.config, &info.config_schema)
            .into_iter()
            .map(|problem| format!("[policy] {problem}")),
    );
    match problems.is_empty() {
        true => check(
            Rule::PolicyDescribe,
            Verdict::Pass,
            format!("{} {}: {}", info.name, info.version, info.description),
        ),
        false => check(Rule::PolicyDescribe, Verdict::Fail, problems.join("; ")),
    }
    let instance = PolicyInstance::new(
        host,
        Arc::clone(&plugin),
        PolicySandbox {
            tenant: "-".into(),
            id: info.name.clone(),
            grants: Vec::new(),
            memory_bytes: limits::DEFAULT_MEMORY_BYTES,
            timeout: limits::DEFAULT_CALL_TIMEOUT,
        },
    );
    let settings = PolicySettings {
        config: file.policy.config.clone(),
        files: file.read_files(&file.policy.files)?,
    };

    let mut deterministic = Vec::new();
    let mut misplaced = Vec::new();
    for case in &file.cases {
        let input = file.read_input(case)?;
        let settings = match &case.files {
            Some(names) => PolicySettings {
                config: settings.config.clone(),
                files: file.read_files(names)?,
            },
            None => settings.clone(),
        };
        let first = instance.evaluate(&settings, &input).await;
        let (verdict, detail) = judge(case, &first);
        check(
            Rule::PolicyCase,
            verdict,
            format!("{}: {detail}", case.name),
        );
        let second = instance.evaluate(&settings, &input).await;
        if describe_outcome(&first) != describe_outcome(&second) {
            deterministic.push(case.name.clone());
        }
        if let Ok(found) = &first {
            misplaced.extend(
                misplaced_findings(&input, found)
                    .into_iter()
                    .map(|what| format!("{}: {what}", case.name)),
            );
        }
    }
    match deterministic.is_empty() {
        true => check(
            Rule::PolicyDeterministic,
            Verdict::Pass,
            format!("{} case(s) evaluated twice alike", file.cases.len()),
        ),
        false => check(
            Rule::PolicyDeterministic,
            Verdict::Fail,
            format!(
                "different findings the second time: {}",
                deterministic.join(", ")
            ),
        ),
    }
    match misplaced.is_empty() {
        true => check(
            Rule::PolicyFindingsPlaced,
            Verdict::Pass,
            "every finding's address is a resource or a change of its input".into(),
        ),
        false => check(
            Rule::PolicyFindingsPlaced,
            Verdict::Fail,
            misplaced.join("; "),
        ),
    }

    let empty = PolicyInput {
        tenant: "-".into(),
        commit: PolicyCommit {
            id: "0".repeat(40),
            author: "Ada <ada@example.org>".into(),
            message: "nothing".into(),
            time: 0,
            signer: None,
        },
        resources: Vec::new(),
        plan: None,
    };
    match instance.evaluate(&settings, &empty).await {
        Ok(found) => check(
            Rule::PolicyEmptyInput,
            Verdict::Pass,
            format!(
                "{} finding(s) in an empty desired state without a plan",
                found.len()
            ),
        ),
        Err(error) => check(Rule::PolicyEmptyInput, Verdict::Fail, error.to_string()),
    }

    match &file.policy.bad_config {
        None => check(
            Rule::PolicyConfigRefused,
            Verdict::Skip,
            "no `bad_config` in [policy]".into(),
        ),
        Some(bad) => {
            let bad_settings = PolicySettings {
                config: bad.clone(),
                files: settings.files.clone(),
            };
            match instance.evaluate(&bad_settings, &empty).await {
                Err(PluginError::Policy { error, .. })
                    if error.kind == PolicyErrorKind::InvalidConfig =>
                {
                    check(Rule::PolicyConfigRefused, Verdict::Pass, error.message)
                }
                Err(error) => check(
                    Rule::PolicyConfigRefused,
                    Verdict::Fail,
                    format!("failed another way: {error}"),
                ),
                Ok(found) => check(
                    Rule::PolicyConfigRefused,
                    Verdict::Fail,
                    format!("accepted it and found {} thing(s)", found.len()),
                ),
            }
        }
    }
    Ok(checks)
}

/// A case's verdict and what was seen.
fn judge(case: &Case, outcome: &Result<Vec<Finding>, PluginError>) -> (Verdict, String) {
    match (outcome, case.expect_error) {
        (Err(PluginError::Policy { error, .. }), Some(kind)) if error.kind == kind => {
            (Verdict::Pass, format!("failed as expected: {error}"))
        }
        (Err(error), _) => (Verdict::Fail, format!("failed: {error}")),
        (Ok(found), Some(kind)) => (
            Verdict::Fail,
            format!(
                "expected an `{}` error, found {} finding(s)",
                kind.as_str(),
                found.len()
            ),
        ),
        (Ok(found), None) => {
            let mut unmatched: Vec<&Finding> = found.iter().collect();
            let mut missing = Vec::new();
            for expected in &case.expect {
                match unmatched.iter().position(|f| expected.matches(f)) {
                    Some(index) => {
                        unmatched.remove(index);
                    }
                    None => missing.push(format!(
                        "{} {}{}",
                        expected.severity.as_str(),
                        expected.rule,
                        expected
                            .address
                            .as_ref()
                            .map(|a| format!(" at {a}"))
                            .unwrap_or_default()
                    )),
                }
            }
            if missing.is_empty() && unmatched.is_empty() {
                (
                    Verdict::Pass,
                    format!("{} finding(s) as expected", found.len()),
                )
            } else {
                let extra: Vec<String> = unmatched
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {}{}: {}",
                            f.severity.as_str(),
                            f.rule,
                            f.address
                                .as_ref()
                                .map(|a| format!(" at {a}"))
                                .unwrap_or_default(),
                            f.message
                        )
                    })
                    .collect();
                (
                    Verdict::Fail,
                    format!(
                        "missing [{}]; unexpected [{}]",
                        missing.join(", "),
                        extra.join(", ")
                    ),
                )
            }
        }
    }
}

/// An outcome in a form compared across two evaluations: the findings in
/// order, or the error.
fn describe_outcome(outcome: &Result<Vec<Finding>, PluginError>) -> String {
    match outcome {
        Ok(found) => {
            let mut sorted = found.clone();
            sorted.sort();
            serde_json::to_string(&sorted).expect("findings serialize")
        }
        Err(error) => error.to_string(),
    }
}

/// Findings whose address names nothing of the input, and fields without
/// an address.
fn misplaced_findings(input: &PolicyInput, found: &[Finding]) -> Vec<String> {
    let mut known: BTreeSet<&str> = input.resources.iter().map(|r| r.address.as_str()).collect();
    if let Some(changes) = input
        .plan
        .as_ref()
        .and_then(|plan| plan["changes"].as_array())
    {
        known.extend(
            changes
                .iter()
                .filter_map(|change| change["address"].as_str()),
        );
    }
    found
        .iter()
        .filter_map(|finding| match (&finding.address, &finding.field) {
            (Some(address), _) if !known.contains(address.as_str()) => Some(format!(
                "{} names `{address}`, which is neither a resource nor a change of its input",
                finding.rule
            )),
            (None, Some(field)) => Some(format!(
                "{} names the field `{field}` without an address",
                finding.rule
            )),
            _ => None,
        })
        .collect()
}
