//! `cairn plugin inspect --check`: what the host checked when the plugin
//! loaded — a plugin that fails one of those does not load at all — and
//! the advice that does not stop it loading but spares its operators a
//! surprise: schemas that let a misspelt key through, identity fields a
//! resource may omit, types nobody described.

use cairn::contract::{ProviderInfo, ResourceType};
use cairn::host::json_schema::{closed, lists};
use serde::Serialize;
use serde_json::Value;

/// One thing checked, and how it came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `ok`, or `warning` for advice.
    pub level: Level,
    /// What was checked.
    pub check: &'static str,
    /// What was found, and what to do about a warning.
    pub message: String,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// It holds (the checks the host made at load).
    Ok,
    /// Advice: the plugin loads, but an operator may be surprised.
    Warning,
}

/// Every finding of `info`, a plugin speaking `contract` that loaded: the
/// checks the load made first, then the advice.
pub fn findings(info: &ProviderInfo, contract: &str, supported: &str) -> Vec<Finding> {
    let ok = |check, message: String| Finding {
        level: Level::Ok,
        check,
        message,
    };
    let mut findings = vec![
        ok(
            "contract",
            format!("it speaks {contract}; this host supports {supported}"),
        ),
        ok(
            "schemas",
            format!(
                "the config schema and the {} resource type schema(s) are JSON Schemas",
                info.resource_types.len()
            ),
        ),
        ok(
            "fields",
            "every identity, force-replace and sensitive field is one its type's schema defines"
                .to_string(),
        ),
    ];
    let warning = |check, message: String| Finding {
        level: Level::Warning,
        check,
        message,
    };
    if !closed(&info.config_schema) {
        findings.push(warning(
            "config-schema",
            "the config schema does not close its object (\"additionalProperties\": false), so a misspelt key in cairn.toml's `config` passes the host's check and reaches `configure`".to_string(),
        ));
    }
    for resource_type in &info.resource_types {
        findings.extend(
            type_advice(resource_type)
                .into_iter()
                .map(|message| warning("resource-type", message)),
        );
    }
    findings
}

/// Advice about one resource type.
fn type_advice(resource_type: &ResourceType) -> Vec<String> {
    let name = &resource_type.name;
    let mut advice = Vec::new();
    if resource_type.description.trim().is_empty() {
        advice.push(format!(
            "resource type `{name}` has no description: `cairn plugin docs` shows an empty line"
        ));
    }
    if !closed(&resource_type.schema) {
        advice.push(format!(
            "the schema of `{name}` does not close its object (\"additionalProperties\": false): unless `validate` refuses unknown fields, a misspelt one is silently ignored"
        ));
    }
    for field in resource_type
        .identity
        .iter()
        .chain(&resource_type.force_replace)
        .chain(&resource_type.sensitive)
    {
        if !lists(&resource_type.schema, field) {
            advice.push(format!(
                "`{}` of `{name}` is not among the properties its schema lists: unless the schema lets it in otherwise, the type names a field its resources cannot have",
                field.trim_end_matches('?').replace('/', ".")
            ));
        }
    }
    for field in &resource_type.identity {
        if field.ends_with('?') {
            continue;
        }
        if !required(&resource_type.schema, field) {
            advice.push(format!(
                "identity field `{}` of `{name}` is not required by its schema: a resource without it fails at load, not at `validate` with the schema's words (mark it required, or end it in `?` if it may be absent)",
                field.replace('/', ".")
            ));
        }
    }
    advice
}

/// Whether `schema` requires the `/`-separated `field` at every level.
fn required(schema: &Value, field: &str) -> bool {
    let mut level = schema;
    let mut keys = field.split('/').peekable();
    while let Some(key) = keys.next() {
        let listed = level
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|names| names.iter().any(|name| name == key));
        if !listed {
            return false;
        }
        if keys.peek().is_none() {
            return true;
        }
        match level.get("properties").and_then(|p| p.get(key)) {
            Some(next) => level = next,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(config: Value, schema: Value, identity: &[&str], description: &str) -> ProviderInfo {
        ProviderInfo {
            name: "kv".into(),
            version: "1.0.0".into(),
            description: String::new(),
            resource_types: vec![ResourceType::new("entry", description, identity).schema(schema)],
            config_schema: config,
        }
    }

    #[test]
    fn a_strict_plugin_has_only_the_load_checks() {
        let strict = info(
            json!({"additionalProperties": false}),
            json!({
                "additionalProperties": false,
                "required": ["key", "meta"],
                "properties": {"key": {}, "region": {}, "meta": {"required": ["zone"], "properties": {"zone": {}}}}
            }),
            &["meta/zone", "key", "region?"],
            "an entry",
        );
        let found = findings(
            &strict,
            "cairn:provider@0.2.0",
            "cairn:provider@0.2.0 and cairn:provider@0.1.0",
        );
        assert!(found.iter().all(|f| f.level == Level::Ok), "{found:#?}");
        assert_eq!(found.len(), 3);
        assert!(found[0].message.contains("it speaks cairn:provider@0.2.0"));
    }

    #[test]
    fn loose_schemas_optional_identities_and_missing_descriptions_are_advised() {
        let loose = info(json!({}), json!({"properties": {"key": {}}}), &["key"], "");
        let warnings: Vec<String> = findings(&loose, "c", "s")
            .into_iter()
            .filter(|f| f.level == Level::Warning)
            .map(|f| f.message)
            .collect();
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        assert!(warnings[0].starts_with("the config schema does not close"));
        assert!(warnings[1].contains("has no description"));
        assert!(warnings[2].starts_with("the schema of `entry` does not close"));
        assert!(warnings[3].starts_with("identity field `key` of `entry` is not required"));
    }
}
