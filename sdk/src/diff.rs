//! Helpers to compare canonical JSON documents and build changes.

use crate::{Action, Change, DiffInput, FieldChange, ResourceType};
use serde_json::Value;

/// The fields that differ between `before` and `after`, recursing into
/// objects; arrays and scalars are compared whole. Paths are `/`-separated.
/// A whole document on one side only (a create, a delete) gives one field
/// per top-level key, so that a sensitive field stays a field of its own.
pub fn field_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let empty = Value::Object(Default::default());
    let (before, after) = match (before, after) {
        (None, Some(Value::Object(_))) => (Some(&empty), after),
        (Some(Value::Object(_)), None) => (before, Some(&empty)),
        sides => sides,
    };
    let mut changes = Vec::new();
    collect(String::new(), before, after, &mut changes);
    changes
}

fn collect(
    path: String,
    before: Option<&Value>,
    after: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (before, after) {
        (Some(Value::Object(old)), Some(Value::Object(new))) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}/{key}")
                };
                collect(child, old.get(key), new.get(key), out);
            }
        }
        (old, new) if old == new => {}
        (old, new) => out.push(FieldChange {
            path,
            before: old.cloned(),
            after: new.cloned(),
            sensitive: false,
        }),
    }
}

/// The action for an object that is desired or not, observed or not, with
/// these differing fields: create, delete, update, or no-op when nothing
/// differs (or nothing is there and nothing is wanted).
pub fn action(desired: bool, observed: bool, fields: &[FieldChange]) -> Action {
    match (desired, observed) {
        (false, false) => Action::NoOp,
        (true, false) => Action::Create,
        (false, true) => Action::Delete,
        (true, true) if fields.is_empty() => Action::NoOp,
        (true, true) => Action::Update,
    }
}

/// Compares one input generically: create when nothing is observed, delete
/// when nothing is desired, replace when a `force_replace` field differs,
/// update when another field differs, no-op otherwise. Sensitive fields are
/// marked so the host never shows their values.
pub fn compare(input: DiffInput, rules: Option<&ResourceType>) -> Change {
    let mut fields = field_changes(input.observed.as_ref(), input.desired.as_ref());
    let top_field = |path: &str| path.split('/').next().unwrap_or_default().to_string();
    let mut action = action(input.desired.is_some(), input.observed.is_some(), &fields);
    if let Some(rules) = rules {
        if action == Action::Update
            && fields
                .iter()
                .any(|field| rules.force_replace.contains(&top_field(&field.path)))
        {
            action = Action::Replace;
        }
        for field in &mut fields {
            field.sensitive = rules.sensitive.contains(&top_field(&field.path));
        }
    }
    let summary = summarize(action, &fields);
    input.into_change(action, summary, fields)
}

/// A one-line summary of a change from its action and field changes, such
/// as `update ttl: 300 → 600`.
pub fn summarize(action: Action, fields: &[FieldChange]) -> String {
    let verb = match action {
        Action::NoOp => return "no changes".to_string(),
        Action::Create => return "create".to_string(),
        Action::Delete => return "delete".to_string(),
        Action::Update => "update",
        Action::Replace => "replace",
    };
    let parts: Vec<String> = fields
        .iter()
        .map(|field| {
            if field.sensitive {
                return format!("{} (sensitive)", field.path);
            }
            let show = |value: &Option<Value>| match value {
                Some(value) => value.to_string(),
                None => "(unset)".to_string(),
            };
            format!(
                "{}: {} → {}",
                field.path,
                show(&field.before),
                show(&field.after)
            )
        })
        .collect();
    format!("{verb} {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(desired: Option<Value>, observed: Option<Value>) -> DiffInput {
        DiffInput {
            type_name: "record".into(),
            id: "a/A".into(),
            desired,
            observed,
            prior: None,
            halt: false,
        }
    }

    #[test]
    fn nested_fields_are_reported_by_path() {
        let changes = field_changes(
            Some(&json!({"a": {"b": 1, "c": 2}, "d": [1]})),
            Some(&json!({"a": {"b": 1, "c": 3}, "d": [1, 2]})),
        );
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["a/c", "d"]);
        assert_eq!(changes[0].before, Some(json!(2)));
        assert_eq!(changes[0].after, Some(json!(3)));
    }

    #[test]
    fn force_replace_fields_turn_an_update_into_a_replace() {
        let rules = ResourceType::new("record", "", &["name"]).force_replace(&["kind"]);
        let change = compare(
            input(Some(json!({"kind": "x"})), Some(json!({"kind": "y"}))),
            Some(&rules),
        );
        assert_eq!(change.action, Action::Replace);
        assert_eq!(change.summary, r#"replace kind: "y" → "x""#);
    }

    #[test]
    fn a_create_keeps_a_sensitive_field_a_field_of_its_own() {
        let rules = ResourceType::new("user", "", &["name"]).sensitive(&["password"]);
        let change = compare(
            input(Some(json!({"name": "ada", "password": "hunter2"})), None),
            Some(&rules),
        );
        assert_eq!(change.action, Action::Create);
        let paths: Vec<(&str, bool)> = change
            .fields
            .iter()
            .map(|field| (field.path.as_str(), field.sensitive))
            .collect();
        assert_eq!(paths, [("name", false), ("password", true)]);
        let deleted = compare(input(None, Some(json!({"name": "ada"}))), Some(&rules));
        assert_eq!(deleted.fields[0].path, "name");
        assert_eq!(deleted.fields[0].after, None);
    }

    #[test]
    fn sensitive_values_never_reach_the_summary() {
        let rules = ResourceType::new("user", "", &["name"]).sensitive(&["password"]);
        let change = compare(
            input(
                Some(json!({"password": "new"})),
                Some(json!({"password": "old"})),
            ),
            Some(&rules),
        );
        assert_eq!(change.action, Action::Update);
        assert!(change.fields[0].sensitive);
        assert_eq!(change.summary, "update password (sensitive)");
    }

    #[test]
    fn equal_documents_are_a_no_op_and_missing_ones_create_or_delete() {
        let same = compare(input(Some(json!({"a": 1})), Some(json!({"a": 1}))), None);
        assert_eq!(same.action, Action::NoOp);
        let create = compare(input(Some(json!({"a": 1})), None), None);
        assert_eq!(create.action, Action::Create);
        let delete = compare(input(None, Some(json!({"a": 1}))), None);
        assert_eq!(delete.action, Action::Delete);
    }
}
