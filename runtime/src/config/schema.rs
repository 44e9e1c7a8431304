//! A provider's `config` table against the JSON Schema its plugin
//! describes it with: every command checks it when it loads the tenant,
//! so that `cairn validate` finds a misspelt or mistyped key at its table
//! in `cairn.toml` rather than the first call that configures the plugin.

use serde_json::Value;

/// How many problems one check names: enough to fix a table in one go, and
/// a bounded message however the plugin's schema is written.
pub const MAX_PROBLEMS: usize = 10;

/// The characters of one problem shown: the validator repeats the value it
/// refused, which may be a whole table.
const PROBLEM_SHOWN: usize = 300;

/// What is wrong with `config` under `schema`, each problem led by the
/// key it is about (`config.url: 8081 is not of type "string"`); empty
/// when it matches. A schema the validator cannot compile is one problem.
pub fn problems(config: &Value, schema: &Value) -> Vec<String> {
    problems_under("config", config, schema)
}

/// What is wrong with `value` under `schema`, each problem led by the key
/// it is about below `root` (`state.ttl: "300" is not of type "integer"`).
pub fn problems_under(root: &str, value: &Value, schema: &Value) -> Vec<String> {
    let validator = match crate::host::json_schema::compile(schema) {
        Ok(validator) => validator,
        Err(error) => return vec![format!("the plugin's {root} schema is unusable: {error}")],
    };
    validator
        .iter_errors(value)
        .take(MAX_PROBLEMS)
        .map(|error| {
            let problem = format!(
                "{}: {error}",
                key_path(root, error.instance_path().as_str())
            );
            match problem.char_indices().nth(PROBLEM_SHOWN) {
                Some((cut, _)) => format!("{}…", &problem[..cut]),
                None => problem,
            }
        })
        .collect()
}

/// A JSON pointer into the config as the key it names in `cairn.toml`:
/// `/zones/0/name` is `config.zones[0].name`.
fn key_path(root: &str, pointer: &str) -> String {
    let mut path = String::from(root);
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "zones": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
            },
            "required": ["url"],
            "additionalProperties": false
        })
    }

    #[test]
    fn a_config_that_matches_has_no_problems() {
        assert!(problems(&json!({"url": "http://127.0.0.1:8081"}), &schema()).is_empty());
        assert!(problems(&json!({"anything": 1}), &json!({})).is_empty());
    }

    #[test]
    fn each_problem_names_its_key() {
        let found = problems(
            &json!({"url": 8081, "zones": [{"name": 1}], "ulr": "typo"}),
            &schema(),
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found.contains(&"config.url: 8081 is not of type \"string\"".to_string()),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("config.zones[0].name: 1 is not of type")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("config: ") && p.contains("ulr")),
            "{found:?}"
        );
        let missing = problems(&json!({}), &schema());
        assert_eq!(missing, ["config: \"url\" is a required property"]);
    }

    #[test]
    fn a_long_value_is_cut() {
        let long = "x".repeat(2_000);
        let found = problems(&json!({"url": 1, "zones": long}), &schema());
        assert!(
            found.iter().all(|p| p.chars().count() <= PROBLEM_SHOWN + 1),
            "{found:?}"
        );
        assert!(found.iter().any(|p| p.ends_with('…')), "{found:?}");
    }

    #[test]
    fn at_most_so_many_problems_are_named() {
        let schema = json!({"additionalProperties": {"type": "string"}});
        let config: serde_json::Map<String, Value> =
            (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(
            problems(&Value::Object(config), &schema).len(),
            MAX_PROBLEMS
        );
    }
}
