//! {{name}}: a Cairn policy, made by `cairn plugin new --kind policy`.
//!
//! It checks that no plan deletes more than `max_deletes` objects (of the
//! resource types in `types`, every type when absent): the guard a team
//! puts in front of mass deletions, which the operator makes
//! `soft-mandatory` so that an intended clean-up can be let through with
//! `cairn apply --override-policy ID --reason WHY`.
//!
//! The rules a policy follows:
//! - decide only from the settings and the input (deterministic: the
//!   findings are part of a saved plan's checksum);
//! - give each finding a stable rule id, and the address (and field) of
//!   what it concerns;
//! - fail with `invalid-config` on a config it cannot use, never guess.

use cairn_policy_sdk::serde_json::json;
use cairn_policy_sdk::{
    Finding, Policy, PolicyError, PolicyErrorKind, PolicyInfo, PolicyInput, PolicySettings,
    plan,
};

/// The rule id of the finding.
const RULE: &str = "max-deletes";

/// The policy.
pub struct MaxDeletes;

impl Policy for MaxDeletes {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "No plan deletes more than `max_deletes` objects of the given types"
                .into(),
            config_schema: json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "max_deletes": {"type": "integer", "minimum": 0},
                    "types": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "`PROVIDER/TYPE`s counted (`idp/user`); every type when absent"
                    }
                },
                "required": ["max_deletes"],
                "additionalProperties": false
            }),
        }
    }

    fn evaluate(
        settings: &PolicySettings,
        input: &PolicyInput,
    ) -> Result<Vec<Finding>, PolicyError> {
        let invalid = |message: &str| PolicyError::new(PolicyErrorKind::InvalidConfig, message);
        let max = settings.config["max_deletes"]
            .as_u64()
            .ok_or_else(|| invalid("max_deletes must be a whole number of at least 0"))?;
        let types: Option<Vec<&str>> = match &settings.config["types"] {
            cairn_policy_sdk::serde_json::Value::Null => None,
            cairn_policy_sdk::serde_json::Value::Array(types) => Some(
                types
                    .iter()
                    .map(|t| t.as_str().ok_or_else(|| invalid("types must be strings")))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(invalid("types must be a list of `PROVIDER/TYPE`")),
        };
        let counted = |change: &plan::PlannedChange<'_>| {
            types.as_ref().is_none_or(|types| {
                types.contains(&format!("{}/{}", change.provider(), change.type_name()).as_str())
            })
        };
        let deletes: Vec<plan::PlannedChange<'_>> = plan::changes(input)
            .filter(|change| change.deletes() && counted(change))
            .collect();
        if deletes.len() as u64 <= max {
            return Ok(Vec::new());
        }
        let first: Vec<&str> = deletes.iter().take(5).map(|c| c.address()).collect();
        Ok(vec![
            Finding::error(
                RULE,
                format!(
                    "the plan deletes {} objects, more than max_deletes = {max} ({}{})",
                    deletes.len(),
                    first.join(", "),
                    if deletes.len() > first.len() { ", …" } else { "" }
                ),
            )
            .with_help("if the deletions are intended, an operator can let this plan through: cairn apply --override-policy ID --reason WHY"),
        ])
    }
}

cairn_policy_sdk::export_policy!(MaxDeletes);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_policy_sdk::PolicyCommit;

    fn input(actions: &[(&str, &str)]) -> PolicyInput {
        PolicyInput {
            tenant: "web".into(),
            commit: PolicyCommit {
                id: "c0ffee".into(),
                author: "Ada <ada@example.org>".into(),
                message: "clean up".into(),
                time: 0,
                signer: None,
            },
            resources: Vec::new(),
            plan: Some(json!({"changes": actions.iter().map(|(address, action)| json!({
                "address": address, "action": action, "fields": []
            })).collect::<Vec<_>>()})),
        }
    }

    fn settings(config: cairn_policy_sdk::serde_json::Value) -> PolicySettings {
        PolicySettings {
            config,
            files: Vec::new(),
        }
    }

    #[test]
    fn more_deletes_than_allowed_is_an_error() {
        let plan = input(&[
            ("idp/user/a", "delete"),
            ("idp/user/b", "delete"),
            ("dns/record/c/A", "delete"),
            ("idp/user/d", "create"),
        ]);
        let found = MaxDeletes::evaluate(&settings(json!({"max_deletes": 2})), &plan).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, RULE);
        let only_users = settings(json!({"max_deletes": 2, "types": ["idp/user"]}));
        assert!(MaxDeletes::evaluate(&only_users, &plan).unwrap().is_empty());
    }

    #[test]
    fn a_config_it_cannot_use_is_refused() {
        let error = MaxDeletes::evaluate(&settings(json!({"max_deletes": "two"})), &input(&[]))
            .unwrap_err();
        assert_eq!(error.kind, PolicyErrorKind::InvalidConfig);
    }
}
