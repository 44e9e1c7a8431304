//! What the host checks of a provider's own description when it loads:
//! its schemas (the config's and each resource type's) are JSON Schemas,
//! and each field a resource type names — its identity, the fields whose
//! change forces a replace, the sensitive ones — is a field its schema
//! defines. A provider that breaks either is wrong, and saying so at load
//! blames its author; found later, the same mistake reads as the
//! operator's ("the resource has no `key` … set key", and then "unknown
//! field `key`" once they do).
//!
//! A field is missing only where the schema closes an object — it lists
//! the object's `properties` and refuses any other (`additionalProperties`
//! or `unevaluatedProperties` false, no `patternProperties`, no `allOf`,
//! `anyOf`, `oneOf` or `$ref` that could add one) — and that list lacks
//! it. Where a schema leaves a level open, nothing is claimed here, and
//! `cairn plugin inspect --check` advises instead.

use super::error::ContractViolation;
use super::json_schema;
use cairn_contract::{ProviderInfo, ResourceType};
use serde_json::Value;

/// Every field `info`'s resource types name is defined by their schemas;
/// the first one that is not, otherwise.
pub fn check(info: &ProviderInfo) -> Result<(), ContractViolation> {
    is_a_schema("the config schema", &info.config_schema)?;
    for resource_type in &info.resource_types {
        is_a_schema(
            &format!("the schema of resource type `{}`", resource_type.name),
            &resource_type.schema,
        )?;
    }
    for resource_type in &info.resource_types {
        for (role, fields) in roles(resource_type) {
            for field in fields {
                if !json_schema::defines(&resource_type.schema, field) {
                    return Err(ContractViolation::UndefinedField {
                        type_name: resource_type.name.clone(),
                        role,
                        field: field.trim_end_matches('?').replace('/', "."),
                    });
                }
            }
        }
    }
    Ok(())
}

/// `schema` is a JSON Schema the host can use: valid against its draft's
/// meta-schema (2020-12 unless it says otherwise), with every reference
/// inside it, since nothing is fetched.
fn is_a_schema(what: &str, schema: &Value) -> Result<(), ContractViolation> {
    json_schema::compile(schema)
        .map(drop)
        .map_err(|error| ContractViolation::InvalidSchema {
            what: what.to_string(),
            problem: error.to_string(),
        })
}

/// The lists of field names a resource type declares, each with what its
/// fields are for.
fn roles(resource_type: &ResourceType) -> [(&'static str, &[String]); 3] {
    [
        ("an identity field", &resource_type.identity[..]),
        (
            "a field whose change forces a replace",
            &resource_type.force_replace[..],
        ),
        ("a sensitive field", &resource_type.sensitive[..]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(identity: &[&str], force_replace: &[&str], sensitive: &[&str]) -> ProviderInfo {
        let strings = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect();
        ProviderInfo {
            name: "kv".into(),
            version: "1.0.0".into(),
            description: String::new(),
            config_schema: json!({}),
            resource_types: vec![ResourceType {
                name: "entry".into(),
                description: String::new(),
                schema: json!({
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string"},
                        "secret": {"type": "string"},
                        "metadata": {
                            "type": "object",
                            "unevaluatedProperties": false,
                            "properties": {"zone": {"type": "string"}}
                        },
                        "labels": {"type": "object"}
                    }
                }),
                identity: strings(identity),
                force_replace: strings(force_replace),
                sensitive: strings(sensitive),
            }],
        }
    }

    #[test]
    fn fields_the_schema_defines_pass() {
        check(&info(&["metadata/zone?", "name"], &["name"], &["secret"])).unwrap();
        // A level the schema does not describe claims nothing.
        check(&info(&["labels/app"], &[], &[])).unwrap();
        // Nor does a schema without properties, or one that lets others
        // in.
        for schema in [
            json!({"type": "object"}),
            json!({"properties": {"name": {}}}),
            json!({"properties": {"name": {}}, "additionalProperties": false, "patternProperties": {"^x-": {}}}),
            json!({"properties": {"name": {}}, "additionalProperties": false, "allOf": [{"properties": {"anything": {}}}]}),
        ] {
            let mut open = info(&["anything"], &[], &[]);
            open.resource_types[0].schema = schema;
            check(&open).unwrap();
        }
    }

    #[test]
    fn a_schema_that_is_no_json_schema_is_named() {
        let mut wrong_type = info(&["name"], &[], &[]);
        wrong_type.resource_types[0].schema = json!({"type": "text"});
        let mut remote = info(&["name"], &[], &[]);
        remote.config_schema = json!({"$ref": "https://schemas.example.org/config.json"});
        let mut unknown_draft = info(&["name"], &[], &[]);
        unknown_draft.config_schema = json!({"$schema": "https://example.org/my-draft"});
        for (info, what) in [
            (wrong_type, "the schema of resource type `entry`"),
            (remote, "the config schema"),
            (unknown_draft, "the config schema"),
        ] {
            let text = check(&info).unwrap_err().to_string();
            assert!(
                text.starts_with(&format!("{what} is not a JSON Schema")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_field_the_schema_lacks_is_the_providers_fault_and_named() {
        for (info, role, field) in [
            (info(&["key"], &[], &[]), "an identity field", "key"),
            (
                info(&["name", "metadata/region"], &[], &[]),
                "an identity field",
                "metadata.region",
            ),
            (
                info(&["name"], &["zone"], &[]),
                "a field whose change forces a replace",
                "zone",
            ),
            (
                info(&["name"], &[], &["password"]),
                "a sensitive field",
                "password",
            ),
        ] {
            let violation = check(&info).unwrap_err();
            let text = violation.to_string();
            assert!(text.contains(&format!("`{field}` as {role}")), "{text}");
            assert!(text.contains("resource type `entry`"), "{text}");
            assert!(text.contains("the plugin's author"), "{text}");
        }
    }
}
