//! Rule values turned into findings, and regorus's errors into policy
//! errors that name the file and line.

use cairn_policy_sdk::{Finding, FindingSeverity, PolicyError, PolicyErrorKind};

/// The findings of `package.rule`'s value: a set or array of messages,
/// each a string or an object with `msg` (and optionally `rule`,
/// `address`, `field`, `help`). An undefined rule finds nothing.
pub fn of_rule(
    package: &str,
    rule: &str,
    severity: FindingSeverity,
    value: &regorus::Value,
) -> Result<Vec<Finding>, PolicyError> {
    let items: Vec<regorus::Value> = match value {
        regorus::Value::Undefined | regorus::Value::Null => return Ok(Vec::new()),
        regorus::Value::Set(items) => items.iter().cloned().collect(),
        regorus::Value::Array(items) => items.iter().cloned().collect(),
        regorus::Value::Bool(false) => return Ok(Vec::new()),
        other => vec![other.clone()],
    };
    let default_rule = format!("{package}.{rule}");
    items
        .into_iter()
        .map(|item| of_item(&default_rule, severity, &item))
        .collect()
}

fn of_item(
    default_rule: &str,
    severity: FindingSeverity,
    item: &regorus::Value,
) -> Result<Finding, PolicyError> {
    let json: serde_json::Value = serde_json::from_str(&item.to_json_str().map_err(|error| {
        PolicyError::new(
            PolicyErrorKind::InvalidRules,
            format!("{default_rule} gave a value that is not JSON: {error}"),
        )
    })?)
    .map_err(|error| {
        PolicyError::new(
            PolicyErrorKind::InvalidRules,
            format!("{default_rule} gave a value that is not JSON: {error}"),
        )
    })?;
    match json {
        serde_json::Value::String(message) => Ok(Finding::new(default_rule, severity, message)),
        serde_json::Value::Object(object) => {
            let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_string);
            let message = text("msg").or_else(|| text("message")).ok_or_else(|| {
                PolicyError::new(
                    PolicyErrorKind::InvalidRules,
                    format!(
                        "{default_rule} gave an object without `msg`: {}",
                        serde_json::Value::Object(object.clone())
                    ),
                )
            })?;
            let mut finding = Finding::new(
                text("rule").unwrap_or_else(|| default_rule.to_string()),
                severity,
                message,
            );
            finding.address = text("address");
            finding.field = text("field");
            finding.help = text("help");
            Ok(finding)
        }
        other => Err(PolicyError::new(
            PolicyErrorKind::InvalidRules,
            format!("{default_rule} gave {other}: a message is a string or an object with `msg`"),
        )),
    }
}

/// A file that regorus refused, as an `invalid-rules` error with the file
/// and line its message points at (`--> FILE:LINE:COLUMN`).
pub fn rules_error(file: &str, error: &impl std::fmt::Display) -> PolicyError {
    let text = error.to_string();
    let line = text.lines().find_map(|line| {
        let place = line.trim().strip_prefix("--> ")?;
        let mut parts = place.rsplitn(3, ':');
        let _column = parts.next()?;
        parts.next()?.parse::<u32>().ok()
    });
    let message = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(&text)
        .trim()
        .trim_start_matches("error: ")
        .to_string();
    PolicyError::new(PolicyErrorKind::InvalidRules, message).in_file(file, line)
}

/// The first non-empty line of an error.
pub fn first_line(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    text.lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_names_its_file_and_line() {
        let mut engine = regorus::Engine::new();
        let error = engine
            .add_policy(
                "policies/ttl.rego".into(),
                "package main\n\ndeny contains msg if {\n  input.x ==\n".into(),
            )
            .unwrap_err();
        let error = rules_error("policies/ttl.rego", &error);
        assert_eq!(error.kind, PolicyErrorKind::InvalidRules);
        assert_eq!(error.file.as_deref(), Some("policies/ttl.rego"));
        assert!(error.line.is_some_and(|line| line >= 3), "{error:?}");
        assert!(!error.message.is_empty());
    }

    #[test]
    fn messages_are_strings_or_objects() {
        let value = regorus::Value::from_json_str(
            r#"["plain", {"msg": "ttl too low", "rule": "min-ttl", "address": "dns/record/a", "field": "ttl", "help": "raise it"}]"#,
        )
        .unwrap();
        let found = of_rule("main", "deny", FindingSeverity::Error, &value).unwrap();
        assert_eq!(found[0].rule, "main.deny");
        assert_eq!(found[0].message, "plain");
        assert_eq!(found[1].rule, "min-ttl");
        assert_eq!(found[1].address.as_deref(), Some("dns/record/a"));
        assert_eq!(found[1].field.as_deref(), Some("ttl"));
        assert_eq!(found[1].help.as_deref(), Some("raise it"));
        let bad = regorus::Value::from_json_str(r#"[{"text": "no msg"}]"#).unwrap();
        assert!(of_rule("main", "deny", FindingSeverity::Error, &bad).is_err());
        assert!(
            of_rule(
                "main",
                "deny",
                FindingSeverity::Error,
                &regorus::Value::Undefined
            )
            .unwrap()
            .is_empty()
        );
    }
}
