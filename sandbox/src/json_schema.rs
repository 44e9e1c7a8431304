//! The JSON Schemas a plugin describes itself with, compiled for the host:
//! offline, whatever features the validator crate is built with — a `$ref`
//! to anything outside the schema is refused, never fetched over the
//! network or read from a file, since the schema is the plugin's word and
//! the host runs outside its sandbox.

use serde_json::Value;

/// `schema` compiled, or why it is no JSON Schema the host can use.
pub fn compile(
    schema: &Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options().offline().build(schema)
}

/// Whether `schema` may define `field`, a `/`-separated path
/// (`metadata/name`), optionally ending in `?`: false only where a closed
/// object lacks it.
pub fn defines(schema: &Value, field: &str) -> bool {
    let mut level = schema;
    for key in field.trim_end_matches('?').split('/') {
        match level.get("properties").and_then(|p| p.get(key)) {
            Some(next) => level = next,
            None => return !closed(level),
        }
    }
    true
}

/// The keywords by which a schema may allow properties its `properties`
/// do not list.
const OPENING_KEYWORDS: [&str; 5] = ["patternProperties", "allOf", "anyOf", "oneOf", "$ref"];

/// Whether an object schema allows exactly the properties it lists.
pub fn closed(schema: &Value) -> bool {
    let refuses_others = ["additionalProperties", "unevaluatedProperties"]
        .iter()
        .any(|keyword| schema.get(keyword) == Some(&Value::Bool(false)));
    refuses_others
        && OPENING_KEYWORDS
            .iter()
            .all(|keyword| schema.get(keyword).is_none())
}

/// Whether every level of `field`'s path is among the `properties` its
/// schema lists, where it lists any: advice, since an open schema may let
/// the field in by other means.
pub fn lists(schema: &Value, field: &str) -> bool {
    let mut level = schema;
    for key in field.trim_end_matches('?').split('/') {
        let Some(properties) = level.get("properties").and_then(Value::as_object) else {
            return true;
        };
        match properties.get(key) {
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

    #[test]
    fn nothing_outside_the_schema_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.json");
        std::fs::write(&outside, r#"{"type": "string"}"#).unwrap();
        for reference in [
            format!("file://{}", outside.display()),
            "http://127.0.0.1:9/schema.json".to_string(),
        ] {
            assert!(compile(&json!({"$ref": reference})).is_err(), "{reference}");
        }
        // A reference inside the schema resolves.
        let inside = json!({"$defs": {"name": {"type": "string"}}, "$ref": "#/$defs/name"});
        assert!(compile(&inside).unwrap().is_valid(&json!("www")));
    }
}
