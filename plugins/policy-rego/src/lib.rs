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
        if config.data.as_ref().is_some_and(|data| !data.is_object()) {
            return Err(PolicyError::new(
                PolicyErrorKind::InvalidConfig,
                "config.data must be a table: it is the rules' `data` document",
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

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_policy_sdk::{FindingSeverity, PolicyCommit, PolicyResource, RuleFile};

    fn input() -> PolicyInput {
        PolicyInput {
            tenant: "web".into(),
            commit: PolicyCommit {
                id: "c0ffee".into(),
                author: "Ada <ada@example.org>".into(),
                message: "low ttl".into(),
                time: 0,
                signer: None,
            },
            resources: vec![PolicyResource {
                address: "dns/record/www.example.org./A".into(),
                provider: "dns".into(),
                type_name: "record".into(),
                id: "www.example.org./A".into(),
                spec: json!({"name": "www.example.org.", "type": "A", "ttl": 60}),
                file: "dns.toml".into(),
                line: 1,
            }],
            plan: None,
        }
    }

    fn settings(config: Value, files: &[(&str, &str)]) -> PolicySettings {
        PolicySettings {
            config,
            files: files
                .iter()
                .map(|(name, text)| RuleFile {
                    name: name.to_string(),
                    text: text.to_string(),
                })
                .collect(),
        }
    }

    /// Conftest's own conventions, in the v0 syntax its users wrote for
    /// years: `package main`, `deny[msg]`, `violation[{"msg": …}]` and
    /// `warn[msg]`, across files, with `data` from the config.
    const CONFTEST_V0: &str = r#"
package main

deny[msg] {
    r := input.resources[_]
    r.spec.ttl < data.min_ttl
    msg := sprintf("%s: ttl %d", [r.address, r.spec.ttl])
}

violation[{"msg": msg, "address": r.address, "field": "ttl"}] {
    r := input.resources[_]
    r.spec.ttl < 100
    msg := "very low"
}
"#;
    const WARN_V0: &str = r#"
package style

warn[msg] {
    input.commit.message == "low ttl"
    msg := "say why in the commit message"
}
"#;

    #[test]
    fn conftest_rules_in_v0_syntax_give_errors_and_warnings() {
        let config = json!({"rego_version": "v0", "data": {"min_ttl": 300}});
        let files = [("main.rego", CONFTEST_V0), ("style.rego", WARN_V0)];
        let mut found = Rego::evaluate(&settings(config.clone(), &files), &input()).unwrap();
        found.sort();
        let seen: Vec<(&str, FindingSeverity, Option<&str>)> = found
            .iter()
            .map(|f| (f.rule.as_str(), f.severity, f.field.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("main.deny", FindingSeverity::Error, None),
                ("main.violation", FindingSeverity::Error, Some("ttl")),
                ("style.warn", FindingSeverity::Warning, None),
            ]
        );
        assert_eq!(found[0].message, "dns/record/www.example.org./A: ttl 60");
        // Only the namespaces asked for, as Conftest's --namespace.
        let mut only = config;
        only["namespaces"] = json!(["style"]);
        let found = Rego::evaluate(&settings(only, &files), &input()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, "style.warn");
    }

    #[test]
    fn v1_is_the_default_and_v0_rules_are_then_a_syntax_error() {
        let error = Rego::evaluate(
            &settings(json!({}), &[("main.rego", CONFTEST_V0)]),
            &input(),
        )
        .unwrap_err();
        assert_eq!(error.kind, PolicyErrorKind::InvalidRules);
        assert_eq!(error.file.as_deref(), Some("main.rego"));
        assert!(error.line.is_some(), "{error:?}");
    }

    #[test]
    fn a_config_it_cannot_use_is_refused() {
        for config in [
            json!({"rego_version": "v2"}),
            json!({"namespaces": "main"}),
            json!({"data": 3}),
        ] {
            let error = Rego::evaluate(
                &settings(config.clone(), &[("main.rego", WARN_V0)]),
                &input(),
            )
            .unwrap_err();
            assert_eq!(error.kind, PolicyErrorKind::InvalidConfig, "{config}");
        }
        let error = Rego::evaluate(&settings(json!({}), &[]), &input()).unwrap_err();
        assert_eq!(error.kind, PolicyErrorKind::InvalidConfig);
    }
}
