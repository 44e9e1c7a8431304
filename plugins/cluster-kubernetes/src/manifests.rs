//! The `manifests` resource type: existing YAML manifests from the
//! repository, applied as they are. The host reads the files the resource
//! names from the same commit and hands over their documents; every
//! object they hold is applied, and objects that leave the files are
//! pruned.

use crate::cluster::Item;
use crate::object::{self, ObjectRef};
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{Diagnostic, Validation};
use std::collections::{BTreeMap, BTreeSet};

/// The resource type's name.
pub const TYPE_NAME: &str = "manifests";

/// The JSON Schema of a `manifests` spec; `files` is filled in by the host.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["name", "files"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "description": "names this set of manifests; its objects are annotated with it"},
            "files": {
                "x-cairn-files": true,
                "description": "YAML files or globs, relative to the resource file's directory",
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            }
        }
    })
}

/// Checks a `manifests` spec whose files the host has read, and returns
/// `{ name, files: [paths], objects: [canonical objects] }`.
pub fn validate(spec: &Value) -> Validation {
    let mut problems = Vec::new();
    let name = spec.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() || name.contains('/') {
        problems.push(
            Diagnostic::error("name", "`name` must be a non-empty name without `/`")
                .with_help("name the set, for example `name = \"web\"`"),
        );
    }
    for key in spec.as_object().into_iter().flatten().map(|(key, _)| key) {
        if key != "name" && key != "files" {
            problems.push(Diagnostic::error(
                key.as_str(),
                format!("unknown field `{key}`"),
            ));
        }
    }
    let Some(files) = spec.get("files").and_then(Value::as_array) else {
        problems.push(Diagnostic::error(
            "files",
            "`files` must name YAML manifests",
        ));
        return Validation::invalid(problems);
    };
    let mut paths = Vec::new();
    let mut objects = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let (Some(path), Some(documents)) = (
            file.get("path").and_then(Value::as_str),
            file.get("documents").and_then(Value::as_array),
        ) else {
            problems.push(Diagnostic::error(
                "files",
                "the host did not read the files: this provider needs a Cairn that reads manifests (`x-cairn-files`)",
            ));
            return Validation::invalid(problems);
        };
        paths.push(Value::String(path.to_string()));
        for (position, document) in documents.iter().enumerate() {
            let at = format!("files/{index}/documents/{position}");
            for (object, at) in flatten_lists(document, &at) {
                match object::validate(object, &at) {
                    Ok(canonical) => {
                        let Some(reference) = ObjectRef::of(&canonical) else {
                            continue;
                        };
                        let id = reference.id();
                        let place = format!("{path}, document {}", position + 1);
                        if let Some(first) = seen.insert(id.clone(), place.clone()) {
                            problems.push(
                                Diagnostic::error(
                                    at,
                                    format!("{id} is declared twice: in {first} and in {place}"),
                                )
                                .with_help("each object may be declared once"),
                            );
                            continue;
                        }
                        objects.push(canonical);
                    }
                    // Each at its path into the document, which the
                    // host turns into the manifest's line and column.
                    Err(mut errors) => problems.append(&mut errors),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Validation::invalid(problems);
    }
    Validation::valid(json!({ "name": name, "files": paths, "objects": objects }))
}

/// A document, or the items of a `kind: List` document.
fn flatten_lists<'a>(document: &'a Value, at: &str) -> Vec<(&'a Value, String)> {
    let is_list = document.get("kind").and_then(Value::as_str) == Some("List");
    match document.get("items").and_then(Value::as_array) {
        Some(items) if is_list => items
            .iter()
            .enumerate()
            .map(|(index, item)| (item, format!("{at}/items/{index}")))
            .collect(),
        _ => vec![(document, at.to_string())],
    }
}

/// The objects of a canonical spec or an observed state, by id.
pub fn objects_by_id(state: Option<&Value>) -> BTreeMap<String, Value> {
    state
        .and_then(|state| state.get("objects"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|object| Some((ObjectRef::of(object)?.id(), object.clone())))
        .collect()
}

/// One item per object declared or found: declared ones are applied,
/// found ones no longer declared are pruned.
pub fn items(address: &str, desired: Option<&Value>, observed: Option<&Value>) -> Vec<Item> {
    let wanted = objects_by_id(desired);
    let mut found = objects_by_id(observed);
    let mut items: Vec<Item> = wanted
        .into_iter()
        .map(|(id, object)| Item {
            reference: ObjectRef::parse(&id).expect("ids are built from references"),
            address: address.to_string(),
            live: found.remove(&id),
            desired: Some(object),
            may_adopt: false,
        })
        .collect();
    items.extend(found.into_iter().map(|(id, object)| Item {
        reference: ObjectRef::parse(&id).expect("ids are built from references"),
        address: address.to_string(),
        desired: None,
        live: Some(object),
        may_adopt: false,
    }));
    items
}

/// The state of a set: its name and its objects' kept states, by id.
pub fn state(name: &str, objects: BTreeMap<String, Value>) -> Value {
    json!({ "name": name, "objects": objects.into_values().collect::<Vec<_>>() })
}

/// The ids in a set of items whose plans do something, for the summary.
pub fn changed_ids(ids: &BTreeSet<String>) -> String {
    const SHOWN: usize = 5;
    let mut shown: Vec<&str> = ids.iter().take(SHOWN).map(String::as_str).collect();
    if ids.len() > SHOWN {
        shown.push("…");
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(documents: Vec<Value>) -> Value {
        json!({"name": "web", "files": [{"path": "k8s/app.yaml", "documents": documents}]})
    }

    #[test]
    fn documents_and_lists_become_objects() {
        let spec = expanded(vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}),
            json!({"apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}}
            ]}),
        ]);
        let canonical = validate(&spec).canonical.expect("valid");
        assert_eq!(canonical["files"], json!(["k8s/app.yaml"]));
        assert_eq!(canonical["objects"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn duplicates_and_unread_files_are_errors() {
        let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}});
        let validation = validate(&expanded(vec![map.clone(), map]));
        assert!(validation.diagnostics[0].message.contains("declared twice"));
        let unread = validate(&json!({"name": "web", "files": ["k8s/*.yaml"]}));
        assert!(unread.diagnostics[0].message.contains("did not read"));
    }

    #[test]
    fn objects_that_leave_the_files_are_pruned() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}});
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "web"}});
        let desired = json!({"name": "web", "objects": [a.clone()]});
        let observed = json!({"name": "web", "objects": [a, b]});
        let items = items("k8s/manifests/web", Some(&desired), Some(&observed));
        assert_eq!(items.len(), 2);
        assert!(items[0].desired.is_some() && items[0].live.is_some());
        assert_eq!(items[1].reference.name, "b");
        assert!(items[1].desired.is_none());
    }
}
