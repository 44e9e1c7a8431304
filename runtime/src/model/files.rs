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
//! The distinct files a commit's resources name count toward the tenant's
//! `quotas.manifest_bytes` once each, before any is parsed; each is then
//! parsed once per load and kept as JSON text, shared ([`Arc`]) by every
//! resource naming it, and spliced into each one's spec only as the spec
//! is written out for the plugin.
//!
//! Only manifests below the tenant's folder can be named, and a resource
//! file that names any is never served from the model cache, so a change
//! to a manifest alone is always seen.

use super::diagnostic::{FileText, SourceDiagnostic};
use super::parse::RawResource;
use crate::quota::QuotaExceeded;
use crate::source::{ManifestFile, UnreadableManifest};
use globset::GlobBuilder;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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

/// A manifest as plugins get it: its documents as one JSON array, parsed
/// from YAML once per load and shared by every resource naming it.
#[derive(Debug, PartialEq, Eq)]
pub struct Manifest {
    /// Its path in the repository.
    pub path: String,
    /// Its non-empty documents, as a JSON array.
    pub documents_json: String,
    /// How many documents it holds.
    pub documents: usize,
}

/// The manifests one resource names: per field, the files it matched.
pub type Named = Vec<(String, Vec<Arc<Manifest>>)>;

/// What resolving a resource's patterns found: per field, the paths.
type Paths = Vec<(String, Vec<String>)>;

/// What [`expand`] found.
#[derive(Debug)]
pub struct Expanded {
    /// Every problem, each once: a manifest that is not YAML is reported
    /// at its own line and column, however many resources name it.
    pub problems: Vec<SourceDiagnostic>,
    /// Per resource, in order: whether every manifest it names was
    /// attached, so that it can be validated.
    pub ready: Vec<bool>,
}

/// Fills in the manifests of `resources`, each given with its fields that
/// name files: resolves their patterns, checks `manifest_bytes` (the
/// quota) over the distinct files named before any is parsed, parses each
/// of them once, and attaches it to every resource naming it (see
/// [`RawResource::spec_json`]). Returns the problems and which resources
/// are ready to be validated, or the quota's error naming the first file
/// over it and where it is named.
pub fn expand(
    resources: &mut [(&mut RawResource, Vec<String>)],
    manifests: &BTreeMap<String, ManifestFile>,
    manifest_bytes: u64,
    commit: &str,
) -> Result<Expanded, QuotaExceeded> {
    let resolved: Vec<Result<Paths, Vec<SourceDiagnostic>>> = resources
        .iter()
        .map(|(resource, fields)| resolve(resource, fields, manifests))
        .collect();

    // Every file counted once, in the order they are first named.
    let mut first_named: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (index, paths) in resolved.iter().enumerate() {
        let Ok(paths) = paths else { continue };
        for (field, paths) in paths {
            for path in paths {
                first_named.entry(path).or_insert_with(|| {
                    order.push(path);
                    (index, field)
                });
            }
        }
    }
    let size = |path: &str| {
        manifests[path]
            .text
            .as_ref()
            .map_or(0, |text| text.len() as u64)
    };
    let total: u64 = order.iter().map(|path| size(path)).sum();
    if total > manifest_bytes {
        let mut running = 0;
        let over = order
            .iter()
            .find(|path| {
                running += size(path);
                running > manifest_bytes
            })
            .expect("the total is over");
        let (index, field) = first_named[over];
        let resource = &resources[index].0;
        let at = resource.file.location(resource.span_of(field).start);
        return Err(QuotaExceeded {
            key: "manifest_bytes",
            what: format!("the size of the manifests resources name at commit {commit}"),
            actual: total,
            limit: manifest_bytes,
            at: None,
        }
        .at(format!("{over}, named at {at}")));
    }

    // Each file parsed once; its documents kept only as JSON text.
    let parsed: BTreeMap<String, Result<Arc<Manifest>, ManifestProblem>> = order
        .iter()
        .map(|&path| (path.to_string(), parse(path, &manifests[path])))
        .collect();

    let mut problems = Vec::new();
    let mut ready = Vec::with_capacity(resources.len());
    // Manifests whose problem is reported already.
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for ((resource, _), paths) in resources.iter_mut().zip(resolved) {
        let paths = match paths {
            Ok(paths) => paths,
            Err(mut errors) => {
                problems.append(&mut errors);
                ready.push(false);
                continue;
            }
        };
        let mut errors = Vec::new();
        let mut broken = false;
        let mut named: Named = Vec::with_capacity(paths.len());
        for (field, paths) in paths {
            let span = resource.span_of(&field);
            let mut files = Vec::with_capacity(paths.len());
            for path in &paths {
                let problem = match &parsed[path] {
                    Ok(manifest) => {
                        files.push(manifest.clone());
                        continue;
                    }
                    Err(problem) => problem,
                };
                broken = true;
                if !reported.insert(path.clone()) {
                    continue;
                }
                let named_here = || {
                    SourceDiagnostic::new(
                        &resource.file,
                        span.clone(),
                        format!("{path} is named here"),
                    )
                    .with_label("named here")
                };
                errors.push(match problem.place() {
                    Some((text, line, column)) => {
                        let text = FileText::new(path, text.to_string());
                        let span = text.character_at(line, column);
                        SourceDiagnostic::new(&text, span, problem.to_string())
                            .with_help(problem.help())
                            .with_related(named_here())
                    }
                    None => {
                        SourceDiagnostic::new(&resource.file, span.clone(), problem.to_string())
                            .with_help(problem.help())
                    }
                });
            }
            let total: usize = files.iter().map(|file| file.documents).sum();
            if total > MAX_DOCUMENTS_PER_RESOURCE {
                errors.push(
                    SourceDiagnostic::new(
                        &resource.file,
                        span,
                        format!(
                            "`{field}` holds {total} documents; one resource may hold at most {MAX_DOCUMENTS_PER_RESOURCE}"
                        ),
                    )
                    .with_help("split the files over several resources"),
                );
                continue;
            }
            named.push((field, files));
        }
        let attached = errors.is_empty() && !broken;
        if attached {
            resource.manifests = named;
        }
        problems.append(&mut errors);
        ready.push(attached);
    }
    Ok(Expanded { problems, ready })
}

/// Why a named manifest cannot be given to the resources naming it.
#[derive(Debug, thiserror::Error)]
enum ManifestProblem {
    /// The source could not read it.
    #[error("{path} cannot be read: {reason}")]
    Unreadable {
        /// The manifest.
        path: String,
        /// Why.
        #[source]
        reason: UnreadableManifest,
    },
    /// It is not YAML.
    #[error("invalid YAML: {reason}")]
    NotYaml {
        /// Its text.
        text: Arc<str>,
        /// Where and why.
        #[source]
        reason: YamlError,
    },
}

impl ManifestProblem {
    /// The manifest's text and the 1-based line and column (in
    /// characters) in it where the problem is, when known.
    fn place(&self) -> Option<(&str, usize, usize)> {
        match self {
            Self::Unreadable { .. } => None,
            Self::NotYaml { text, reason } => {
                let at = reason.0.location()?;
                Some((text, at.line(), at.column()))
            }
        }
    }

    /// What to do about it.
    fn help(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "fix the file, or leave it out of the patterns",
            Self::NotYaml { .. } => "fix the manifest; each document must be a YAML mapping",
        }
    }
}

/// A YAML stream's first error (its message says where, too).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct YamlError(serde_norway::Error);

/// The manifest at `path` parsed, or why it cannot be.
fn parse(path: &str, file: &ManifestFile) -> Result<Arc<Manifest>, ManifestProblem> {
    let text = file
        .text
        .as_ref()
        .map_err(|reason| ManifestProblem::Unreadable {
            path: path.to_string(),
            reason: reason.clone(),
        })?;
    let documents = documents(text).map_err(|reason| ManifestProblem::NotYaml {
        text: text.as_str().into(),
        reason,
    })?;
    Ok(Arc::new(Manifest {
        path: path.to_string(),
        documents_json: serde_json::to_string(&documents).expect("JSON values serialize"),
        documents: documents.len(),
    }))
}

/// A place in a manifest that a resource names, as a path into the
/// resource's spec gives it.
#[derive(Debug, PartialEq, Eq)]
pub struct ManifestPath<'a> {
    /// The field naming the manifest.
    pub field: &'a str,
    /// The manifest.
    pub manifest: &'a Manifest,
    /// The document (of its non-empty ones), if the path goes that far.
    pub document: Option<usize>,
    /// The path inside the document.
    pub rest: Vec<&'a str>,
}

/// Where `path` (`/`-separated, as a provider's diagnostic gives it) leads
/// in the manifests `resource` names: the plugin sees each field naming
/// files as `[{"path": …, "documents": […]}]` (see
/// [`RawResource::spec_json`]), so `FIELD/I/documents/J/REST` is the
/// `I`-th file of the field, its `J`-th document, and `REST` in it.
/// `None` when the path is not inside a manifest.
pub fn manifest_path<'a>(resource: &'a RawResource, path: &'a str) -> Option<ManifestPath<'a>> {
    let mut steps = path.trim_matches('/').split('/');
    let field = steps.next()?;
    let (_, files) = resource.manifests.iter().find(|(name, _)| name == field)?;
    let manifest = files.get(steps.next()?.parse::<usize>().ok()?)?;
    let document = match steps.next() {
        Some("documents") => steps.next().and_then(|index| index.parse().ok()),
        _ => None,
    };
    Some(ManifestPath {
        field,
        manifest,
        document,
        rest: if document.is_some() {
            steps.collect()
        } else {
            Vec::new()
        },
    })
}

/// The files each of `fields` of `resource` names, or every problem with
/// its patterns, each pointing at the field.
fn resolve(
    resource: &RawResource,
    fields: &[String],
    manifests: &BTreeMap<String, ManifestFile>,
) -> Result<Paths, Vec<SourceDiagnostic>> {
    let mut problems = Vec::new();
    let mut resolved = Vec::with_capacity(fields.len());
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
        let mut matched: Vec<String> = Vec::new();
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
                if !matched.contains(path) {
                    matched.push(path.clone());
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
        resolved.push((field.clone(), matched));
    }
    if problems.is_empty() {
        Ok(resolved)
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
fn documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(YamlError)?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let error = documents("a: 1\nb: [1, 2\n").unwrap_err();
        let at = error.0.location().expect("a syntax error has a place");
        assert_eq!(at.line(), 3, "{error}");
    }

    #[test]
    fn only_marked_properties_name_files() {
        let schema = json!({"properties": {"files": {"x-cairn-files": true}, "name": {}}});
        assert_eq!(file_fields(&schema), vec!["files".to_string()]);
        assert!(file_fields(&json!({})).is_empty());
    }

    /// Resources of `text` (at `sets/sets.toml`), each with its `files`
    /// field, and manifests `sets/m/NAME.yaml` with their texts.
    fn fixture(
        text: &str,
        files: &[(&str, &str)],
    ) -> (Vec<RawResource>, BTreeMap<String, ManifestFile>) {
        let resources = crate::model::parse::parse_file(&super::super::diagnostic::FileText::new(
            "sets/sets.toml",
            text.to_string(),
        ))
        .unwrap();
        let manifests = files
            .iter()
            .map(|(name, text)| {
                (
                    format!("sets/m/{name}.yaml"),
                    ManifestFile {
                        text: Ok(text.to_string()),
                    },
                )
            })
            .collect();
        (resources, manifests)
    }

    fn expand_all(
        resources: &mut [RawResource],
        manifests: &BTreeMap<String, ManifestFile>,
        quota: u64,
    ) -> Result<Expanded, QuotaExceeded> {
        let mut naming: Vec<(&mut RawResource, Vec<String>)> = resources
            .iter_mut()
            .map(|resource| (resource, vec!["files".to_string()]))
            .collect();
        expand(&mut naming, manifests, quota, "0123456789ab")
    }

    const TWO_SETS: &str = "[[k8s.manifests]]\nname = \"a\"\nfiles = \"m/*.yaml\"\n\n[[k8s.manifests]]\nname = \"b\"\nfiles = [\"m/one.yaml\"]\n";
    const ONE: &str = "kind: ConfigMap\nmetadata:\n  name: one\n---\nkind: Namespace\n";
    const TWO: &str = "kind: ConfigMap\nmetadata:\n  name: two\n";

    #[test]
    fn a_manifest_named_by_several_resources_is_parsed_once_and_shared() {
        let (mut resources, manifests) = fixture(TWO_SETS, &[("one", ONE), ("two", TWO)]);
        let expanded = expand_all(&mut resources, &manifests, 1 << 20).unwrap();
        assert!(expanded.problems.is_empty(), "{:?}", expanded.problems);
        assert_eq!(expanded.ready, [true, true]);
        let (a, b) = (&resources[0].manifests[0].1, &resources[1].manifests[0].1);
        assert_eq!(a.len(), 2);
        assert_eq!(b.len(), 1);
        assert_eq!(a[0].path, "sets/m/one.yaml");
        assert!(Arc::ptr_eq(&a[0], &b[0]), "one.yaml was parsed twice");
        assert_eq!(a[0].documents, 2);
        // The plugin sees the documents in place of the patterns.
        let spec: Value = serde_json::from_str(&resources[0].spec_json()).unwrap();
        assert_eq!(
            spec,
            json!({"name": "a", "files": [
                {"path": "sets/m/one.yaml", "documents": [
                    {"kind": "ConfigMap", "metadata": {"name": "one"}}, {"kind": "Namespace"}
                ]},
                {"path": "sets/m/two.yaml", "documents": [
                    {"kind": "ConfigMap", "metadata": {"name": "two"}}
                ]},
            ]})
        );
        // The spec itself still holds what was written, for diagnostics.
        assert_eq!(resources[1].spec["files"], json!(["m/one.yaml"]));
    }

    #[test]
    fn manifest_bytes_count_each_file_once_before_any_is_parsed() {
        let both = (ONE.len() + TWO.len()) as u64;
        // Named three times in all, counted once each.
        let (mut resources, manifests) = fixture(TWO_SETS, &[("one", ONE), ("two", TWO)]);
        assert!(expand_all(&mut resources, &manifests, both).is_ok());

        // One byte less: the quota's error, at the first file over it and
        // where it is named, and nothing attached.
        let broken = "kind: [unclosed\n";
        let (mut resources, manifests) = fixture(TWO_SETS, &[("one", ONE), ("two", broken)]);
        let quota = (ONE.len() + broken.len()) as u64 - 1;
        let error = expand_all(&mut resources, &manifests, quota).unwrap_err();
        assert_eq!(error.key, "manifest_bytes");
        assert_eq!(error.actual, quota + 1);
        let message = error.to_string();
        assert!(
            message.contains("the size of the manifests resources name at commit 0123456789ab is"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "more than `quotas.manifest_bytes = {quota}` allows"
            )),
            "{message}"
        );
        assert!(
            message.contains("(it went over at sets/m/two.yaml, named at sets/sets.toml:3:1)"),
            "{message}"
        );
        assert!(
            message.contains("raise `quotas.manifest_bytes`"),
            "{message}"
        );
        assert!(resources.iter().all(|r| r.manifests.is_empty()));
    }

    #[test]
    fn diagnostic_paths_lead_into_the_manifests_named() {
        let (mut resources, manifests) = fixture(TWO_SETS, &[("one", ONE), ("two", TWO)]);
        expand_all(&mut resources, &manifests, 1 << 20).unwrap();
        let place = manifest_path(&resources[0], "files/1/documents/0/metadata/name").unwrap();
        assert_eq!(place.field, "files");
        assert_eq!(place.manifest.path, "sets/m/two.yaml");
        assert_eq!(place.document, Some(0));
        assert_eq!(place.rest, ["metadata", "name"]);
        let file = manifest_path(&resources[0], "files/0").unwrap();
        assert_eq!(
            (file.manifest.path.as_str(), file.document),
            ("sets/m/one.yaml", None)
        );
        assert!(manifest_path(&resources[0], "name").is_none());
        assert!(manifest_path(&resources[0], "files").is_none());
        assert!(manifest_path(&resources[0], "files/2/documents/0").is_none());
    }

    #[test]
    fn a_manifest_that_is_not_yaml_is_reported_once_at_its_own_line() {
        let broken = "kind: ConfigMap\nmetadata:\n  name: [unclosed\n";
        let (mut resources, manifests) = fixture(TWO_SETS, &[("one", broken), ("two", TWO)]);
        let expanded = expand_all(&mut resources, &manifests, 1 << 20).unwrap();
        // Both sets name it; neither is validated; it is reported once.
        assert_eq!(expanded.ready, [false, false]);
        assert_eq!(expanded.problems.len(), 1, "{:?}", expanded.problems);
        let problem = &expanded.problems[0];
        assert_eq!(problem.location.file, "sets/m/one.yaml");
        assert_eq!(problem.location.line, 4, "{problem}");
        assert!(problem.message.starts_with("invalid YAML: "), "{problem}");
        // Where it is named, beside it.
        assert_eq!(problem.related.len(), 1);
        assert_eq!(
            problem.related[0].location.to_string(),
            "sets/sets.toml:3:1"
        );
        assert_eq!(problem.related[0].message, "sets/m/one.yaml is named here");
    }
}
