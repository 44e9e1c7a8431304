//! The plan a policy is shown ([`PolicyInput::plan`]), read as typed views
//! over its JSON: its changes with their addresses, actions and fields. The
//! plan's JSON is documented with `cairn plan --json`; these views read
//! the parts a policy most often needs and leave the rest as JSON.

use cairn_contract::PolicyInput;
use serde_json::Value;

/// One change of the plan.
#[derive(Debug, Clone, Copy)]
pub struct PlannedChange<'a> {
    json: &'a Value,
}

impl<'a> PlannedChange<'a> {
    /// The resource, `PROVIDER/TYPE/ID`.
    pub fn address(&self) -> &'a str {
        self.json["address"].as_str().unwrap_or_default()
    }

    /// The provider instance, the address's first part.
    pub fn provider(&self) -> &'a str {
        self.address().split('/').next().unwrap_or_default()
    }

    /// The resource type, the address's second part.
    pub fn type_name(&self) -> &'a str {
        self.address().split('/').nth(1).unwrap_or_default()
    }

    /// What happens: `create`, `update`, `replace`, `delete`, `forget`,
    /// `adopt` or `refresh`.
    pub fn action(&self) -> &'a str {
        self.json["action"].as_str().unwrap_or_default()
    }

    /// Whether the change deletes the object (a `delete` or a `replace`).
    pub fn deletes(&self) -> bool {
        matches!(self.action(), "delete" | "replace")
    }

    /// The fields that differ, each `{path, before, after, sensitive}`.
    pub fn fields(&self) -> &'a [Value] {
        self.json["fields"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The change as the plan's JSON has it.
    pub fn json(&self) -> &'a Value {
        self.json
    }
}

/// The changes of the input's plan, in the order they would be applied;
/// none when the input has no plan (`cairn validate`).
pub fn changes(input: &PolicyInput) -> impl Iterator<Item = PlannedChange<'_>> {
    input
        .plan
        .as_ref()
        .and_then(|plan| plan["changes"].as_array())
        .into_iter()
        .flatten()
        .map(|json| PlannedChange { json })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_contract::PolicyCommit;
    use serde_json::json;

    #[test]
    fn changes_are_read_from_the_plan() {
        let mut input = PolicyInput {
            tenant: "web".into(),
            commit: PolicyCommit {
                id: "c0ffee".into(),
                author: "Ada <ada@example.org>".into(),
                message: "drop users".into(),
                time: 0,
                signer: None,
            },
            resources: Vec::new(),
            plan: None,
        };
        assert_eq!(changes(&input).count(), 0);
        input.plan = Some(json!({"changes": [
            {"address": "idp/user/ada", "action": "delete", "fields": []},
            {"address": "dns/record/www.example.org./A", "action": "update",
             "fields": [{"path": "ttl", "before": 3600, "after": 60}]},
        ]}));
        let found: Vec<_> = changes(&input).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].provider(), "idp");
        assert_eq!(found[0].type_name(), "user");
        assert!(found[0].deletes());
        assert_eq!(found[1].action(), "update");
        assert_eq!(found[1].fields()[0]["after"], 60);
    }
}
