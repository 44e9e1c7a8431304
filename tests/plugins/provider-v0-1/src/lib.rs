//! A provider of the first released contract, `cairn:provider@0.1.0`,
//! written against its WIT with `wit-bindgen` alone (no SDK, which follows
//! the newest version): the host must keep loading and driving such
//! plugins beside those of newer versions.
//!
//! It manages `note`s that live nowhere: `list` sees none, so every note is
//! created; `validate` trims and lower-cases a note's `text` and refuses an
//! empty one; `apply` reports each change made, with the note as its new
//! state, and logs one record per call. Every call of the contract and the
//! log import crosses the boundary once.

#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit/provider@0.1.0",
    world: "cairn:provider/provider-plugin",
});

use cairn::provider::log::{Level, log};
use cairn::provider::types::{
    Action, Change, Desired, Diagnostic, DiffInput, Error, ErrorKind, Observed, Outcome,
    ProviderInfo, ResourceType, Scope, Secret, Severity, Validation,
};
use exports::cairn::provider::provider::Guest;

struct Notes;

impl Guest for Notes {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "notes".into(),
            version: "0.1.0".into(),
            description: "notes that live nowhere, through contract 0.1.0".into(),
            resource_types: vec![ResourceType {
                name: "note".into(),
                description: "a line of text".into(),
                schema: r#"{"type":"object","required":["name","text"]}"#.into(),
                identity: vec!["name".into()],
                force_replace: Vec::new(),
                sensitive: Vec::new(),
            }],
            config_schema: r#"{"type":"object"}"#.into(),
        }
    }

    fn configure(config: String, _secrets: Vec<Secret>) -> Result<(), Error> {
        if config.trim_start().starts_with('{') {
            Ok(())
        } else {
            Err(Error {
                kind: ErrorKind::Invalid,
                message: "the config is not a table".into(),
            })
        }
    }

    fn validate(resources: Vec<Desired>) -> Vec<Validation> {
        resources
            .into_iter()
            .map(|r| validate_note(&r.spec))
            .collect()
    }

    fn list(_scope: Scope) -> Result<Vec<Observed>, Error> {
        Ok(Vec::new())
    }

    fn diff(inputs: Vec<DiffInput>) -> Result<Vec<Change>, Error> {
        Ok(inputs
            .into_iter()
            .map(|input| {
                let (action, summary) = match (&input.desired, &input.observed) {
                    (Some(_), None) => (Action::Create, "write the note"),
                    (None, Some(_)) => (Action::Delete, "erase the note"),
                    _ => (Action::NoOp, "no changes"),
                };
                Change {
                    type_name: input.type_name,
                    id: input.id,
                    action,
                    summary: summary.into(),
                    fields: Vec::new(),
                    desired: input.desired,
                    observed: input.observed,
                }
            })
            .collect())
    }

    fn apply(changes: Vec<Change>) -> Vec<Outcome> {
        log(
            Level::Info,
            "applying notes",
            &[("changes".into(), changes.len().to_string())],
        );
        changes
            .into_iter()
            .map(|change| match change.action {
                Action::Delete => Outcome::Applied(None),
                _ => Outcome::Applied(change.desired),
            })
            .collect()
    }
}

/// A note's spec, `{"name": ..., "text": ...}`, canonical: both trimmed,
/// the name lower case. Parsed by hand, to need nothing but wit-bindgen.
fn validate_note(spec: &str) -> Validation {
    let field = |name: &str| -> Option<String> {
        let key = format!("\"{name}\":\"");
        let start = spec.find(&key)? + key.len();
        let end = start + spec[start..].find('"')?;
        Some(spec[start..end].trim().to_string())
    };
    let (Some(name), Some(text)) = (field("name"), field("text")) else {
        return invalid("", "a note needs a `name` and a `text`, both text");
    };
    if text.is_empty() {
        return invalid("text", "a note's text is empty");
    }
    Validation {
        canonical: Some(format!(
            r#"{{"name":"{}","text":"{text}"}}"#,
            name.to_lowercase()
        )),
        diagnostics: Vec::new(),
    }
}

fn invalid(path: &str, message: &str) -> Validation {
    Validation {
        canonical: None,
        diagnostics: vec![Diagnostic {
            path: path.into(),
            severity: Severity::Error,
            message: message.into(),
            help: None,
        }],
    }
}

export!(Notes);
