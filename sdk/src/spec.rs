//! Typed access to specs, with field paths in every error.

use crate::{Diagnostic, Error};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Deserializes a spec into `T`. On failure the diagnostic carries the path
/// of the offending field (`records/2`), which the host turns into a file,
/// line and column. Use `#[serde(deny_unknown_fields)]` on `T` so a
/// misspelled key is an error rather than silently ignored.
pub fn parse<T: DeserializeOwned>(spec: &Value) -> Result<T, Diagnostic> {
    serde_path_to_error::deserialize(spec).map_err(|error| {
        // For an unknown key the path already ends with the key itself.
        let path = pointer_path(&error.path().to_string());
        let message = error.inner().to_string();
        let diagnostic = Diagnostic::error(path, message.clone());
        if message.starts_with("unknown field") {
            diagnostic.with_help("remove the key or fix its spelling")
        } else {
            diagnostic
        }
    })
}

/// The JSON of a provider's own canonical type, for a `Validation`, an
/// `Observed` state or an `Outcome`.
pub fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("a canonical type serializes")
}

/// Reads back a spec or state that a change or diff input carries
/// (`desired`, `observed`, `prior`), which the provider itself produced:
/// `None` when absent, an internal error naming `what` when it is not in
/// the provider's form.
pub fn from_state<T: DeserializeOwned>(
    value: &Option<Value>,
    what: &str,
) -> Result<Option<T>, Error> {
    value
        .as_ref()
        .map(|value| serde_json::from_value(value.clone()))
        .transpose()
        .map_err(|error| {
            Error::internal(format!(
                "the {what} is not in this provider's form: {error}"
            ))
        })
}

/// Like [`from_state`], for a state the change must carry.
pub fn required_state<T: DeserializeOwned>(value: &Option<Value>) -> Result<T, Error> {
    from_state(value, "change")?.ok_or_else(|| Error::internal("the change carries no state"))
}

/// A duration as specs write it — a whole number and a unit, `"500ms"`,
/// `"5s"`, `"2m"`, `"1h"` — in milliseconds; `None` for anything else (a
/// bare number, a fraction, an unknown unit, an overflow).
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// Turns serde_path_to_error's `records[2].name` into `records/2/name`.
fn pointer_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        port: u16,
    }

    #[test]
    fn errors_carry_the_path_of_the_field() {
        let error = parse::<Spec>(&json!({"name": "a", "items": [{"port": 1}, {"port": "x"}]}))
            .unwrap_err();
        assert_eq!(error.path, "items/1/port");
        assert!(error.message.contains("invalid type"), "{}", error.message);
    }

    #[test]
    fn durations_have_a_whole_number_and_a_unit() {
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration(" 2m "), Some(120_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("1.5s"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("99999999999999999999h"), None);
    }

    #[test]
    fn unknown_keys_are_errors_with_help() {
        let error = parse::<Spec>(&json!({"name": "a", "items": [], "colour": 1})).unwrap_err();
        assert!(
            error.message.contains("unknown field `colour`"),
            "{}",
            error.message
        );
        assert_eq!(error.path, "colour");
        assert_eq!(
            error.help.as_deref(),
            Some("remove the key or fix its spelling")
        );
    }
}
