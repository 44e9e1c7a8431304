//! The `group` resource type (RFC 7643 §4.2): a display name and its
//! members, named by their users' `userName`.

use crate::schema::GROUP;
use cairn_sdk::serde_json::{Map, Value, json};
use cairn_sdk::{Diagnostic, ResourceType, Validation, spec};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How a member the provider cannot name is shown: by the server's id.
pub const UNKNOWN_MEMBER_PREFIX: &str = "id:";

/// A group as written in Git.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    display_name: String,
    #[serde(default)]
    members: Vec<String>,
}

/// A group in canonical form; observed groups add the server's id and
/// version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group's name, as written (its identity).
    pub display_name: String,
    /// The members' userNames, lower case, sorted: compared as a set.
    pub members: Vec<String>,
    /// Observed only: the server's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_id: Option<String>,
    /// Observed only: the server's `externalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Observed only: the version (ETag) the server gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The `group` resource type.
pub fn resource_type() -> ResourceType {
    ResourceType::new(
        "group",
        "a SCIM group, identified by its displayName; membership is authoritative",
        &["display_name"],
    )
    .schema(json!({
        "type": "object",
        "required": ["display_name"],
        "additionalProperties": false,
        "properties": {
            "display_name": {"type": "string"},
            "members": {"type": "array", "items": {"type": "string", "description": "a user's user_name"}},
            // What the server sets: the observed state carries them.
            "scim_id": {"type": "string", "readOnly": true, "description": "the server's id of the group"},
            "external_id": {"type": "string", "readOnly": true, "description": "Cairn's mark on the group it created"},
            "etag": {"type": "string", "readOnly": true, "description": "the group's version on the server"}
        }
    }))
}

/// Validates a group spec and returns its canonical form.
pub fn validate(spec: &Value) -> Validation {
    let group: GroupSpec = match spec::parse(spec) {
        Ok(group) => group,
        Err(diagnostic) => return Validation::invalid(vec![diagnostic]),
    };
    let mut errors = Vec::new();
    let display_name = group.display_name.trim().to_string();
    if display_name.is_empty() {
        errors.push(Diagnostic::error(
            "display_name",
            "the displayName is empty",
        ));
    } else if display_name.contains(['"', '\\', '/']) || display_name.chars().any(char::is_control)
    {
        errors.push(Diagnostic::error(
            "display_name",
            "the displayName holds a quote, a slash, a backslash or a control character",
        ));
    }
    let mut members = Vec::new();
    for (index, member) in group.members.iter().enumerate() {
        let member = member.trim().to_lowercase();
        if member.is_empty() {
            errors.push(Diagnostic::error(
                format!("members/{index}"),
                "an empty member name",
            ));
        } else {
            members.push(member);
        }
    }
    if !errors.is_empty() {
        return Validation::invalid(errors);
    }
    members.sort();
    members.dedup();
    let canonical = Group {
        display_name,
        members,
        ..Group::default()
    };
    Validation::valid(serde_json::to_value(canonical).expect("a group serializes"))
}

/// The SCIM representation of a group whose members are resolved to
/// `(id, $ref)` pairs; `$ref` is left out where the server's schema has no
/// such sub-attribute.
pub fn to_scim(group: &Group, external_id: &str, members: &[Value]) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), json!([GROUP]));
    body.insert("displayName".into(), json!(group.display_name));
    body.insert("externalId".into(), json!(external_id));
    body.insert("members".into(), Value::Array(members.to_vec()));
    Value::Object(body)
}

/// A SCIM group as the server returned it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimGroup {
    /// The server's id.
    pub id: String,
    /// The group's name.
    pub display_name: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    members: Option<Vec<ScimMember>>,
    #[serde(default)]
    meta: Option<crate::user::Meta>,
}

#[derive(Debug, Deserialize)]
struct ScimMember {
    value: String,
}

impl ScimGroup {
    /// The group in canonical form; `user_names` maps user ids to names.
    pub fn canonical(self, user_names: &HashMap<String, String>) -> Group {
        let mut members: Vec<String> = self
            .members
            .unwrap_or_default()
            .into_iter()
            .map(|member| match user_names.get(&member.value) {
                Some(name) => name.clone(),
                None => format!("{UNKNOWN_MEMBER_PREFIX}{}", member.value),
            })
            .collect();
        members.sort();
        members.dedup();
        Group {
            display_name: self.display_name.trim().to_string(),
            members,
            scim_id: Some(self.id),
            external_id: self.external_id.filter(|id| !id.is_empty()),
            etag: self.meta.and_then(|meta| meta.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_a_set_of_lower_case_user_names() {
        let validation = validate(&json!({
            "display_name": " Admins ", "members": ["Bob", "alice", "bob"]
        }));
        let group: Group = serde_json::from_value(validation.canonical.unwrap()).unwrap();
        assert_eq!(group.display_name, "Admins");
        assert_eq!(group.members, ["alice", "bob"]);
    }

    #[test]
    fn members_outside_the_known_users_are_named_by_id() {
        let scim: ScimGroup = serde_json::from_value(json!({
            "id": "g", "displayName": "ops",
            "members": [{"value": "u1", "$ref": "x"}, {"value": "u9"}]
        }))
        .unwrap();
        let names = HashMap::from([("u1".to_string(), "alice".to_string())]);
        assert_eq!(scim.canonical(&names).members, ["alice", "id:u9"]);
    }

    #[test]
    fn an_empty_name_is_an_error() {
        let validation = validate(&json!({"display_name": " ", "members": [""]}));
        assert_eq!(validation.diagnostics.len(), 2);
    }
}
