//! # policy-rego: the operator's Rego rules as a Cairn policy
//!
//! Runs the `.rego` files the operator names in `cairn.toml` (`files =
//! [...]`) with [regorus](https://github.com/microsoft/regorus), a Rego
//! interpreter in Rust, inside the policy sandbox: the host reads the files
//! and hands their text over; the component has no filesystem.
//!
//! Conftest's conventions hold, so that rules written for OPA/Conftest run
//! as they are: in every package of the files (or those `namespaces`
//! names), the rules `deny` and `violation` give `error` findings and
//! `warn` gives `warning` findings. A rule's value is a set (or array) of
//! messages, each a string or an object with `msg` and optionally `rule`,
//! `address`, `field` and `help`. The rule id of a finding is the object's
//! `rule`, or `PACKAGE.RULE` (`main.deny`).
//!
//! `input` is the policy input as JSON (`cairn:policy`'s `input` record):
//! `tenant`, `commit` (`id`, `author`, `message`, `time`, `signer`),
//! `resources` (each `address`, `provider`, `type`, `id`, `spec`, `file`,
//! `line`) and `plan` (the plan JSON of `cairn plan --json`, `null` for
//! `cairn validate`). The operator's `config.data` is `data`.
//!
//! A file that does not parse is an `invalid-rules` error naming the file
//! and line: the host then blocks the plan (fails closed).

#![deny(missing_docs)]

mod findings;

use cairn_policy_sdk::serde_json::{Value, json};
use cairn_policy_sdk::{
    Finding, Policy, PolicyError, PolicyErrorKind, PolicyInfo, PolicyInput, PolicySettings,
};
use serde::Deserialize;

/// The rules read in each package, with the severity of their findings.
pub const RULES: [(&str, cairn_policy_sdk::FindingSeverity); 3] = [
    ("deny", cairn_policy_sdk::FindingSeverity::Error),
    ("violation", cairn_policy_sdk::FindingSeverity::Error),
    ("warn", cairn_policy_sdk::FindingSeverity::Warning),
];

/// The operator's `config` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Only these packages (without `data.`), as Conftest's `--namespace`;
    /// every package of the files when absent.
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    /// The `data` document the rules see.
    #[serde(default)]
    data: Option<Value>,
    /// `v1` (OPA 1.0 syntax: `deny contains msg if`) or `v0` (the older
    /// `deny[msg] { ... }`, which Conftest still reads).
    #[serde(default)]
    rego_version: Option<String>,
}

/// The Rego policy.
pub struct Rego;

impl Policy for Rego {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "rego".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Runs the operator's Rego rules (Conftest conventions: deny, violation and warn over input)".into(),
            config_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "namespaces": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Only these packages (as Conftest's --namespace); every package of the files when absent"
                    },
                    "data": {
                        "type": "object",
                        "description": "The data document the rules see as `data`"
                    },
                    "rego_version": {
                        "enum": ["v0", "v1"],
                        "description": "The Rego syntax of the files: v1 (the default, OPA 1.0) or v0"
                    }
                },
                "additionalProperties": false
            }),
        }
    }

    fn evaluate(
        settings: &PolicySettings,
        input: &PolicyInput,
    ) -> Result<Vec<Finding>, PolicyError> {
        let config: Config = serde_json::from_value(settings.config.clone()).map_err(|error| {
            PolicyError::new(PolicyErrorKind::InvalidConfig, format!("config: {error}"))
        })?;
        if settings.files.is_empty() {
            return Err(PolicyError::new(
                PolicyErrorKind::InvalidConfig,
                "no rule files: name the .rego files in `files = [...]`",
            ));
        }
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(match config.rego_version.as_deref() {
            None | Some("v1") => false,
            Some("v0") => true,
            Some(other) => {
                return Err(PolicyError::new(
                    PolicyErrorKind::InvalidConfig,
                    format!("rego_version = \"{other}\": use \"v1\" or \"v0\""),
                ));
            }
        });
        let mut rules: Vec<(String, &str, cairn_policy_sdk::FindingSeverity)> = Vec::new();
        for file in &settings.files {
            let package = engine
                .add_policy(file.name.clone(), file.text.clone())
                .map_err(|error| findings::rules_error(&file.name, &error))?;
            let short = package
                .strip_prefix("data.")
                .unwrap_or(&package)
                .to_string();
            if let Some(only) = &config.namespaces
                && !only.contains(&short)
            {
                continue;
            }
            for (rule, severity) in RULES {
                let declared = engine
                    .has_declared_rule_rooted_at(&file.name, rule)
                    .map_err(|error| findings::rules_error(&file.name, &error))?;
                if declared && !rules.iter().any(|(p, r, _)| *p == package && *r == rule) {
                    rules.push((package.clone(), rule, severity));
                }
            }
        }
        if let Some(data) = config.data {
            let data = regorus::Value::from_json_str(&data.to_string()).map_err(|error| {
                PolicyError::new(
                    PolicyErrorKind::InvalidConfig,
                    format!("config.data: {error}"),
                )
            })?;
            engine.add_data(data).map_err(|error| {
                PolicyError::new(
                    PolicyErrorKind::InvalidConfig,
                    format!("config.data: {error}"),
                )
            })?;
        }
        let input_json = serde_json::to_string(input).map_err(|error| {
            PolicyError::new(PolicyErrorKind::Internal, format!("the input: {error}"))
        })?;
        engine.set_input_json(&input_json).map_err(|error| {
            PolicyError::new(PolicyErrorKind::Internal, format!("the input: {error}"))
        })?;
        let mut found = Vec::new();
        for (package, rule, severity) in rules {
            let path = format!("{package}.{rule}");
            let value = engine.eval_rule(path.clone()).map_err(|error| {
                PolicyError::new(
                    PolicyErrorKind::InvalidRules,
                    format!("evaluating {path}: {}", findings::first_line(&error)),
                )
            })?;
            let short = package.strip_prefix("data.").unwrap_or(&package);
            found.extend(findings::of_rule(short, rule, severity, &value)?);
        }
        Ok(found)
    }
}

cairn_policy_sdk::export_policy!(Rego);
