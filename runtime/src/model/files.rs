//! Resources that name manifest files of the repository.
//!
//! A resource type may declare, in its spec's JSON Schema, a property with
//! `"x-cairn-files": true`. Such a field holds a pattern or a list of
//! patterns (`"k8s/*.yaml"`), relative to the directory of the resource
//! file that declares it. Before validation the host replaces the field
//! with the files it matches at the same commit, each parsed into its YAML
//! documents as JSON: `[{ "path": "…", "documents": [ … ] }]`. The plugin
//! still needs no filesystem, and reads nothing the commit does not hold.
//!
//! Only manifests below the tenant's folder can be named, and a resource
//! file that names any is never served from the model cache, so a change
//! to a manifest alone is always seen.

use super::diagnostic::SourceDiagnostic;
use super::parse::RawResource;
use crate::source::ManifestFile;
use globset::GlobBuilder;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The schema keyword that marks a property as naming manifest files.
pub const FILES_KEYWORD: &str = "x-cairn-files";

/// The most files one resource may name: a pattern matching more is
/// almost certainly too broad (`**/*.yaml` over a vendored chart), and
/// every document travels to the plugin in one call.
pub const MAX_FILES_PER_RESOURCE: usize = 500;

/// The most documents one resource's files may hold together, for the same
/// reason.
pub const MAX_DOCUMENTS_PER_RESOURCE: usize = 5_000;

/// The properties of a resource type's schema that name manifest files.
pub fn file_fields(schema: &Value) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, property)| property.get(FILES_KEYWORD) == Some(&Value::Bool(true)))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Replaces each of `fields` in `resource.spec` with the documents of the
/// manifests it names. Every problem is returned, each pointing at the
/// field.
pub fn expand(
    resource: &mut RawResource,
    fields: &[String],
    manifests: &BTreeMap<String, ManifestFile>,
) -> Result<(), Vec<SourceDiagnostic>> {
    let mut problems = Vec::new();
    for field in fields {
        let Some(value) = resource.spec.get(field.as_str()) else {
            continue;
        };
        let problem = |message: String, help: &str| {
            SourceDiagnostic::new(&resource.file, resource.span_of(field), message).with_help(help)
        };
        let patterns: Vec<String> = match value {
            Value::String(pattern) => vec![pattern.clone()],
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect(),
            _ => {
                problems.push(problem(
                    format!("`{field}` must be a file pattern or a list of them"),
                    "write `files = [\"k8s/*.yaml\"]`, relative to this file's directory",
                ));
                continue;
            }
        };
        let base = resource
            .file
            .path
            .rsplit_once('/')
            .map_or("", |(directory, _)| directory);
        let mut matched: Vec<&String> = Vec::new();
        for pattern in &patterns {
            let Some(full) = join(base, pattern) else {
                problems.push(problem(
                    format!("`{pattern}` leaves the repository"),
                    "name manifests below the tenant's folder, relative to this file's directory",
                ));
                continue;
            };
            let glob = match GlobBuilder::new(&full).literal_separator(true).build() {
                Ok(glob) => glob.compile_matcher(),
                Err(error) => {
                    problems.push(problem(
                        format!("`{pattern}` is not a valid pattern: {}", error.kind()),
                        "use `*` within a directory, `**` across directories, `?` for one character",
                    ));
                    continue;
                }
            };
            let mut any = false;
            for path in manifests.keys().filter(|path| glob.is_match(path.as_str())) {
                any = true;
                if !matched.contains(&path) {
                    matched.push(path);
                }
            }
            if !any {
                problems.push(problem(
                    format!("`{pattern}` matches no manifest of this commit"),
                    "manifests are *.yaml or *.yml files below the tenant's folder, named relative to this file's directory",
                ));
            }
        }
        if matched.len() > MAX_FILES_PER_RESOURCE {
            problems.push(problem(
                format!(
                    "`{field}` names {} files; one resource may name at most {MAX_FILES_PER_RESOURCE}",
                    matched.len()
                ),
                "narrow the patterns, or split the files over several resources",
            ));
            continue;
        }
        let mut files = Vec::with_capacity(matched.len());
        let mut total = 0;
        for path in matched {
            let text = match &manifests[path].text {
                Ok(text) => text,
                Err(reason) => {
                    problems.push(problem(
                        format!("{path} cannot be read: {reason}"),
                        "fix the file, or leave it out of the patterns",
                    ));
                    continue;
                }
            };
            match documents(text) {
                Ok(documents) => {
                    total += documents.len();
                    files.push(json!({ "path": path, "documents": documents }));
                }
                Err(reason) => problems.push(problem(
                    format!("{path} is not valid YAML: {reason}"),
                    "fix the manifest; each document must be a YAML mapping",
                )),
            }
        }
        if total > MAX_DOCUMENTS_PER_RESOURCE {
            problems.push(problem(
                format!(
                    "`{field}` holds {total} documents; one resource may hold at most {MAX_DOCUMENTS_PER_RESOURCE}"
                ),
                "split the files over several resources",
            ));
            continue;
        }
        resource.spec[field.as_str()] = Value::Array(files);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// `pattern` joined to `base` with `.` and `..` resolved; `None` when it
/// climbs above the repository's root.
fn join(base: &str, pattern: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|part| !part.is_empty()).collect();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// The non-empty documents of a YAML stream, as JSON, or where and what
/// the first error is.
fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|error| match error.location() {
            Some(at) => format!("line {}, column {}: {error}", at.line(), at.column()),
            None => error.to_string(),
        })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_relative_to_the_declaring_file() {
        assert_eq!(
            join("tenant/k8s", "app/*.yaml").unwrap(),
            "tenant/k8s/app/*.yaml"
        );
        assert_eq!(
            join("tenant/k8s", "../base/a.yaml").unwrap(),
            "tenant/base/a.yaml"
        );
        assert_eq!(join("", "./a.yaml").unwrap(), "a.yaml");
        assert!(join("tenant", "../../etc/passwd").is_none());
    }

    #[test]
    fn streams_split_into_documents_and_skip_empty_ones() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\n---\n---\nkind: Namespace\n";
        let parsed = documents(text).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0]["kind"], "ConfigMap");
        let error = documents("a: [1, 2\n").unwrap_err();
        assert!(error.starts_with("line "), "{error}");
    }

    #[test]
    fn only_marked_properties_name_files() {
        let schema = json!({"properties": {"files": {"x-cairn-files": true}, "name": {}}});
        assert_eq!(file_fields(&schema), vec!["files".to_string()]);
        assert!(file_fields(&json!({})).is_empty());
    }
}
