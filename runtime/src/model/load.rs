//! Loading a commit's desired state in three steps: parse each file, have
//! the providers validate its resources (one batched call per provider),
//! then check what spans files — duplicate addresses, `depends_on` targets,
//! cycles. A file whose blob the model cache knows skips the first two.
//!
//! Before the first step, every file's resources and values are counted
//! from its tokens ([`super::count`]) and the commit is refused over
//! `quotas.resources` or `quotas.values`; before the second, the manifests
//! resources name are sized against `quotas.manifest_bytes`, then parsed
//! once each, and a provider's batch that its memory could not hold is
//! refused before it is written out. So the work a commit can cause is
//! bounded before it is done.

use super::cache::{CachedFile, FileResource};
use super::diagnostic::{FileText, InvalidState, SourceDiagnostic};
use super::parse::{self, RawResource};
use super::{DesiredState, LoadError, OnDelete, across, count, files, yaml};
use crate::host::ProviderInstance;
use crate::model::Address;
use crate::quota::{QuotaExceeded, Quotas};
use crate::source::{ManifestFile, Snapshot};
use cairn_contract::{MissingIdentity, Severity, Validation};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Validated files by blob id, from earlier loads.
pub(super) type KnownFiles = HashMap<String, Arc<CachedFile>, super::FastHash>;

/// A loaded commit and what the cache may keep of it.
pub(super) struct Loaded {
    /// The desired state.
    pub state: DesiredState,
    /// Blob id → file, for every file read and validated here without a
    /// problem or a warning (a warning is shown again on every load).
    pub fresh: Vec<(String, Arc<CachedFile>)>,
    /// Each file's entry, in the snapshot's order.
    pub per_file: Vec<Arc<CachedFile>>,
    /// Whether every file read is in `fresh`: no file has a warning or
    /// resources that depend on files other than their own.
    pub every_file_cacheable: bool,
}

/// How loading ended when nothing was wrong with the files.
pub(super) enum Outcome {
    /// Loaded.
    Loaded(Box<Loaded>),
    /// A problem involves a file that was not read (or a file was neither
    /// read nor known): load again with every text.
    NeedsEveryText,
}

/// Loads `snapshot`, whose files' texts are in `read` (one per file,
/// `None` for a file not read), taking the resources of files not read from
/// `known`, within `quotas`.
pub(super) async fn load_files(
    snapshot: &Snapshot,
    read: &[Option<String>],
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
    known: &KnownFiles,
    quotas: &Quotas,
) -> Result<Outcome, LoadError> {
    let values = check_counts(snapshot, read, known, quotas)?;
    let mut problems: Vec<SourceDiagnostic> = Vec::new();
    // What has no address for the checks across files.
    let mut unknowns = across::Unknowns::default();
    let mut texts: Vec<Option<FileText>> = Vec::with_capacity(snapshot.files.len());
    let mut raw: Vec<(usize, RawResource)> = Vec::new();
    // Files with a problem (or a warning) are never cached.
    let mut uncacheable: HashSet<usize> = HashSet::new();
    for (index, (file, text)) in snapshot.files.iter().zip(read).enumerate() {
        let Some(text) = text else {
            if !known.contains_key(&file.blob) {
                return Ok(Outcome::NeedsEveryText);
            }
            texts.push(None);
            continue;
        };
        let text = FileText::new(&file.path, text.clone());
        match parse::parse_file(&text) {
            Ok(resources) => raw.extend(resources.into_iter().map(|r| (index, r))),
            Err(mut errors) => {
                problems.append(&mut errors);
                uncacheable.insert(index);
                unknowns.unparsed_file = true;
            }
        }
        texts.push(Some(text));
    }

    raw.retain(|(index, resource)| {
        if let Some(problem) =
            unknown_type(resource, providers).or_else(|| kept_experiment(resource, providers))
        {
            problems.push(problem);
            uncacheable.insert(*index);
            unknowns
                .types
                .insert((resource.provider.0.clone(), resource.type_name.0.clone()));
            return false;
        }
        true
    });
    // Resources naming manifests get their documents; one whose manifests
    // have a problem is not validated (its problems are already reported).
    let mut naming: Vec<(usize, &mut RawResource, Vec<String>)> = Vec::new();
    for (position, (index, resource)) in raw.iter_mut().enumerate() {
        let fields = files::file_fields(
            &providers[&resource.provider.0]
                .info()
                .resource_type(&resource.type_name.0)
                .expect("unknown types were removed")
                .schema,
        );
        if !fields.is_empty() {
            // What it declares depends on files other than its own.
            uncacheable.insert(*index);
            naming.push((position, resource, fields));
        }
    }
    let (positions, mut naming): (Vec<usize>, Vec<(&mut RawResource, Vec<String>)>) = naming
        .into_iter()
        .map(|(position, resource, fields)| (position, (resource, fields)))
        .unzip();
    let mut expanded = files::expand(
        &mut naming,
        &snapshot.manifests,
        quotas.manifest_bytes,
        snapshot.commit.short_id(),
    )?;
    problems.append(&mut expanded.problems);
    let unexpanded: HashSet<usize> = positions
        .into_iter()
        .zip(expanded.ready)
        .filter_map(|(position, ready)| (!ready).then_some(position))
        .collect();
    // Resources not validated, or refused: still declared, as written.
    let mut refused: Vec<(usize, RawResource)> = Vec::new();
    let mut position = 0;
    let raw: Vec<(usize, RawResource)> = raw
        .into_iter()
        .filter_map(|entry| {
            position += 1;
            if unexpanded.contains(&(position - 1)) {
                refused.push(entry);
                None
            } else {
                Some(entry)
            }
        })
        .collect();
    let (validated, warnings) = validate(
        &raw,
        providers,
        &snapshot.manifests,
        &mut problems,
        &mut uncacheable,
    )
    .await?;

    // What each file read declares, in file order.
    let mut fresh_by_file: Vec<Vec<FileResource>> = vec![Vec::new(); snapshot.files.len()];
    for ((index, resource), canonical) in raw.into_iter().zip(validated) {
        let Some(spec) = canonical else {
            refused.push((index, resource));
            continue;
        };
        match file_resource(&resource, spec, providers) {
            Ok(valid) => fresh_by_file[index].push(valid),
            Err(problem) => {
                problems.push(*problem);
                uncacheable.insert(index);
            }
        }
    }
    // A refused resource without its identity fields has no address; its
    // provider has said why.
    let refused: Vec<(usize, FileResource)> = refused
        .into_iter()
        .filter_map(|(index, resource)| {
            let declared = file_resource(&resource, resource.spec.clone(), providers).ok()?;
            Some((index, declared))
        })
        .collect();
    let mut per_file: Vec<Arc<CachedFile>> = Vec::with_capacity(snapshot.files.len());
    let mut fresh = Vec::new();
    for (index, (file, resources)) in snapshot.files.iter().zip(fresh_by_file).enumerate() {
        if read[index].is_none() {
            per_file.push(known[&file.blob].clone());
        } else {
            let cached = Arc::new(CachedFile {
                values: values[index],
                resources,
            });
            if !uncacheable.contains(&index) {
                fresh.push((file.blob.clone(), cached.clone()));
            }
            per_file.push(cached);
        }
    }

    let mut declared: Vec<across::Declared<'_>> = per_file
        .iter()
        .enumerate()
        .flat_map(|(file, cached)| {
            cached
                .resources
                .iter()
                .map(move |resource| across::Declared {
                    file,
                    resource,
                    valid: true,
                })
        })
        .chain(refused.iter().map(|(file, resource)| across::Declared {
            file: *file,
            resource,
            valid: false,
        }))
        .collect();
    // In file order, so that the first of two duplicates is the one above.
    declared.sort_by_key(|entry| (entry.file, entry.resource.span.start));
    let Some(resources) = across::check(&declared, &texts, &unknowns, &mut problems) else {
        return Ok(Outcome::NeedsEveryText);
    };
    drop(declared);
    if !problems.is_empty() {
        return Err(InvalidState {
            commit: snapshot.commit.short_id().to_string(),
            diagnostics: problems,
        }
        .into());
    }
    let every_file_cacheable = uncacheable.is_empty() && warnings.is_empty();
    Ok(Outcome::Loaded(Box::new(Loaded {
        state: DesiredState {
            commit: snapshot.commit.clone(),
            resources,
            warnings,
            signer: snapshot.signer.clone(),
        },
        fresh,
        per_file,
        every_file_cacheable,
    })))
}

/// The problem with the resource's provider or type, if either is
/// unknown.
fn unknown_type(
    resource: &RawResource,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
) -> Option<SourceDiagnostic> {
    let (name, span) = &resource.provider;
    let Some(provider) = providers.get(name) else {
        let help = if providers.is_empty() {
            "this tenant has no providers: add [tenants.NAME.providers.NAME] to cairn.toml"
                .to_string()
        } else {
            let names: Vec<&str> = providers.keys().map(String::as_str).collect();
            format!("the providers of this tenant are: {}", names.join(", "))
        };
        return Some(
            SourceDiagnostic::new(
                &resource.file,
                span.clone(),
                format!("unknown provider `{name}`"),
            )
            .with_label("no provider instance has this name")
            .with_help(help),
        );
    };
    let (type_name, type_span) = &resource.type_name;
    if provider.info().resource_type(type_name).is_none() {
        let types: Vec<&str> = provider
            .info()
            .resource_types
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        return Some(
            SourceDiagnostic::new(
                &resource.file,
                type_span.clone(),
                format!("provider `{name}` has no resource type `{type_name}`"),
            )
            .with_help(format!("its types are: {}", types.join(", "))),
        );
    }
    None
}

/// The problem with a chaos experiment kept when it leaves Git
/// (`protect = true`, `on_delete = "orphan"`): Cairn would stop tracking
/// it with a run in progress, which would then never end, its targets left
/// faulted. An experiment leaves Git by being deleted, which restores them.
fn kept_experiment(
    resource: &RawResource,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
) -> Option<SourceDiagnostic> {
    let provider = providers.get(&resource.provider.0)?;
    if provider.info().name != crate::tenant::CHAOS_PROVIDER {
        return None;
    }
    let kept = match (resource.lifecycle.protect, resource.lifecycle.on_delete) {
        (true, _) => "protect = true",
        (false, OnDelete::Orphan) => "on_delete = \"orphan\"",
        (false, OnDelete::Delete) => return None,
    };
    Some(
        SourceDiagnostic::new(
            &resource.file,
            resource.span.clone(),
            format!("a chaos experiment cannot be kept when it leaves Git ({kept})"),
        )
        .with_label("this experiment")
        .with_help(format!(
            "remove `{kept}`: an experiment that leaves Git is deleted, which ends its run in progress and restores its targets; kept, its run would never end"
        )),
    )
}

/// Validates `raw` with one batched call per provider: the canonical spec
/// of each resource (`None` when it has an error), and the warnings. A
/// provider whose batch could not fit in its memory is not called: the
/// resource that goes over is a problem.
async fn validate(
    raw: &[(usize, RawResource)],
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
    manifests: &BTreeMap<String, ManifestFile>,
    problems: &mut Vec<SourceDiagnostic>,
    uncacheable: &mut HashSet<usize>,
) -> Result<(Vec<Option<serde_json::Value>>, Vec<SourceDiagnostic>), LoadError> {
    let mut by_provider: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, (_, resource)) in raw.iter().enumerate() {
        by_provider
            .entry(resource.provider.0.as_str())
            .or_default()
            .push(index);
    }
    let calls = by_provider.iter().map(|(name, indexes)| {
        let provider = providers[*name].clone();
        let batch = batch(raw, indexes, &provider);
        async move {
            match batch {
                Ok(batch) => provider.validate_json(batch).await.map(Ok),
                Err(problem) => Ok(Err(problem)),
            }
        }
    });
    let results = futures::future::join_all(calls).await;

    let mut canonical: Vec<Option<serde_json::Value>> = vec![None; raw.len()];
    let mut warnings = Vec::new();
    let mut manifest_texts = ManifestTexts::new(manifests);
    for ((_, indexes), result) in by_provider.iter().zip(results) {
        let validations: Vec<Validation> = match result? {
            Ok(validations) => validations,
            Err(problem) => {
                problems.push(*problem);
                uncacheable.extend(indexes.iter().map(|&index| raw[index].0));
                continue;
            }
        };
        for (&index, validation) in indexes.iter().zip(validations) {
            let (file, resource) = &raw[index];
            let mut has_error = false;
            for diagnostic in validation.diagnostics {
                let mut source = match files::manifest_path(resource, &diagnostic.path) {
                    Some(place) => manifest_diagnostic(
                        resource,
                        &place,
                        &diagnostic.message,
                        &mut manifest_texts,
                    ),
                    None => SourceDiagnostic::new(
                        &resource.file,
                        resource.span_of(&diagnostic.path),
                        format!(
                            "{}.{}{}: {}",
                            resource.provider.0,
                            resource.type_name.0,
                            field_name(diagnostic.path.split('/')),
                            diagnostic.message
                        ),
                    ),
                };
                if let Some(help) = diagnostic.help {
                    source = source.with_help(help);
                }
                uncacheable.insert(*file);
                match diagnostic.severity {
                    Severity::Error => {
                        has_error = true;
                        problems.push(source);
                    }
                    Severity::Warning => warnings.push(source),
                }
            }
            match validation.canonical {
                Some(spec) if !has_error => canonical[index] = Some(spec),
                Some(_) => {}
                None if has_error => {}
                None => {
                    uncacheable.insert(*file);
                    problems.push(SourceDiagnostic::new(
                        &resource.file,
                        resource.span.clone(),
                        format!(
                            "provider `{}` rejected the resource without saying why",
                            resource.provider.0
                        ),
                    ));
                }
            }
        }
    }
    Ok((canonical, warnings))
}

/// The field at a path's `steps` as messages name it, after a space
/// (`` `a.b.c` ``), or nothing for no steps.
fn field_name<'a>(steps: impl Iterator<Item = &'a str>) -> String {
    let steps: Vec<&str> = steps.filter(|step| !step.is_empty()).collect();
    if steps.is_empty() {
        String::new()
    } else {
        format!(" `{}`", steps.join("."))
    }
}

/// The texts of the manifests that diagnostics point into, each wrapped
/// once per load, when the first diagnostic needs it.
struct ManifestTexts<'a> {
    /// The commit's manifests.
    manifests: &'a BTreeMap<String, ManifestFile>,
    /// Those wrapped so far, by path.
    wrapped: HashMap<String, FileText>,
}

impl<'a> ManifestTexts<'a> {
    fn new(manifests: &'a BTreeMap<String, ManifestFile>) -> Self {
        Self {
            manifests,
            wrapped: HashMap::new(),
        }
    }

    /// The text of the manifest at `path`, if it was read.
    fn get(&mut self, path: &str) -> Option<&FileText> {
        if !self.wrapped.contains_key(path) {
            let text = self.manifests.get(path)?.text.as_ref().ok()?;
            self.wrapped
                .insert(path.to_string(), FileText::new(path, text.clone()));
        }
        self.wrapped.get(path)
    }
}

/// A provider's diagnostic on a place in a manifest that `resource` names:
/// at that place's line and column in the manifest (the whole document, or
/// the file's start, when the path goes no further), with the field naming
/// the manifest beside it.
fn manifest_diagnostic(
    resource: &RawResource,
    place: &files::ManifestPath<'_>,
    message: &str,
    texts: &mut ManifestTexts<'_>,
) -> SourceDiagnostic {
    let named = || {
        SourceDiagnostic::new(
            &resource.file,
            resource.span_of(place.field),
            format!(
                "{} is named here, by a {}.{}",
                place.manifest.path, resource.provider.0, resource.type_name.0
            ),
        )
        .with_label("named here")
    };
    let message = format!(
        "{}.{}{}: {message}",
        resource.provider.0,
        resource.type_name.0,
        field_name(place.rest.iter().copied())
    );
    let Some(text) = texts.get(&place.manifest.path) else {
        // Read for validation, so always there; the field, should it not be.
        return SourceDiagnostic::new(&resource.file, resource.span_of(place.field), message);
    };
    let span = place
        .document
        .and_then(|document| yaml::locate(text, document, &place.rest))
        .unwrap_or(0..0);
    SourceDiagnostic::new(text, span, message).with_related(named())
}

/// The JSON text of `indexes`' specs for one `validate` call of
/// `provider`, or, when they come to more than its memory can hold (the
/// call's arguments are copied into it whole, so such a call could only
/// fail), the problem at the resource that goes over: nothing more is
/// written out than that memory's worth.
fn batch(
    raw: &[(usize, RawResource)],
    indexes: &[usize],
    provider: &ProviderInstance,
) -> Result<Vec<(String, String)>, Box<SourceDiagnostic>> {
    let memory = provider.memory_bytes();
    let mut batch = Vec::with_capacity(indexes.len());
    let mut bytes: u64 = 0;
    for &index in indexes {
        let resource = &raw[index].1;
        let spec = resource.spec_json();
        bytes += (resource.type_name.0.len() + spec.len()) as u64;
        if bytes > memory {
            let span = resource
                .manifests
                .first()
                .map_or(resource.span.clone(), |(field, _)| resource.span_of(field));
            return Err(Box::new(
                SourceDiagnostic::new(
                    &resource.file,
                    span,
                    format!(
                        "the resources of provider `{}` up to this one come to {} MiB of JSON for `validate`, more than its memory of {} MiB can hold",
                        resource.provider.0,
                        bytes >> 20,
                        memory >> 20
                    ),
                )
                .with_help(format!(
                    "each resource carries the documents of every manifest it names: name each manifest from fewer resources, or ask the operator to raise `memory` in [tenants.NAME.providers.{}]",
                    resource.provider.0
                )),
            ));
        }
        batch.push((resource.type_name.0.clone(), spec));
    }
    Ok(batch)
}

/// Counts the resources and values of every file of `snapshot` (from the
/// tokens of its text in `texts`, or from `known` for a file not read)
/// before any is parsed, and returns each file's values. Going over
/// `quotas.resources` or `quotas.values` is the quota's error, saying
/// where the count went over.
fn check_counts(
    snapshot: &Snapshot,
    texts: &[Option<String>],
    known: &KnownFiles,
    quotas: &Quotas,
) -> Result<Vec<usize>, QuotaExceeded> {
    // The running totals, and where each went over its quota.
    let (mut resources, mut values) = (0usize, 0usize);
    let (mut resources_over, mut values_over): (Option<String>, Option<String>) = (None, None);
    let mut per_file = Vec::with_capacity(snapshot.files.len());
    for (file, text) in snapshot.files.iter().zip(texts) {
        match text {
            Some(text) => {
                let (mut resource_offset, mut value_offset) = (None, None);
                let counts = count::count(text, |item, offset| match item {
                    count::Item::Resource => {
                        resources += 1;
                        if Some(resources) == quotas.resources.checked_add(1) {
                            resource_offset = Some(offset);
                        }
                    }
                    count::Item::Value => {
                        values += 1;
                        if Some(values) == quotas.values.checked_add(1) {
                            value_offset = Some(offset);
                        }
                    }
                });
                let at = |offset| {
                    let (line, column) = crate::lines::line_column(text, offset);
                    format!("{}:{line}:{column}", file.path)
                };
                resources_over = resources_over.or(resource_offset.map(at));
                values_over = values_over.or(value_offset.map(at));
                per_file.push(counts.values);
            }
            // A file neither read nor known makes the load start again
            // with every text; it counts for nothing here.
            None => {
                let Some(cached) = known.get(&file.blob) else {
                    per_file.push(0);
                    continue;
                };
                let declared = &cached.resources;
                if resources <= quotas.resources && resources + declared.len() > quotas.resources {
                    resources_over = Some(
                        declared[quotas.resources - resources]
                            .resource
                            .origin
                            .to_string(),
                    );
                }
                if values <= quotas.values && values + cached.values > quotas.values {
                    values_over = Some(file.path.clone());
                }
                resources += declared.len();
                values += cached.values;
                per_file.push(cached.values);
            }
        }
    }
    let commit = snapshot.commit.short_id();
    let check = |key, what: &str, actual: usize, limit: usize, over: Option<String>| {
        QuotaExceeded::check(
            key,
            &format!("{what} at commit {commit}"),
            actual as u64,
            limit as u64,
        )
        .map_err(|exceeded| match over {
            Some(at) => exceeded.at(at),
            None => exceeded,
        })
    };
    check(
        "resources",
        "the number of resources",
        resources,
        quotas.resources,
        resources_over,
    )?;
    check(
        "values",
        "the number of TOML values in the resource files",
        values,
        quotas.values,
        values_over,
    )?;
    Ok(per_file)
}

/// A validated resource with its address from the identity fields.
fn file_resource(
    resource: &RawResource,
    spec: serde_json::Value,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
) -> Result<FileResource, Box<SourceDiagnostic>> {
    let resource_type = providers[&resource.provider.0]
        .info()
        .resource_type(&resource.type_name.0)
        .expect("type checked before validation");
    let identity = &resource_type.identity;
    let id = resource_type
        .id_of(&spec)
        .map_err(|MissingIdentity { field }| {
            Box::new(
                SourceDiagnostic::new(
                    &resource.file,
                    resource.span.clone(),
                    format!(
                        "the resource has no `{}`, which identifies it",
                        field.replace('/', ".")
                    ),
                )
                .with_help(format!(
                    "set {}",
                    identity
                        .iter()
                        .filter(|field| !field.ends_with('?'))
                        .map(|field| field.replace('/', "."))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )),
            )
        })?;
    let address = Address {
        provider: resource.provider.0.clone(),
        type_name: resource.type_name.0.clone(),
        id,
    };
    let identity_span = resource.span_of(
        identity
            .first()
            .map_or("", |field| field.trim_end_matches('?')),
    );
    Ok(FileResource::new(
        address,
        super::Spec::new(&spec),
        resource.lifecycle.clone(),
        resource.depends_on.clone(),
        (resource.span.clone(), identity_span),
        resource.file.location(resource.span.start),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot of `files`, and their texts as read (`None`: not read).
    fn snapshot(files: &[(&str, Option<&str>)]) -> (Snapshot, Vec<Option<String>>) {
        let commit = crate::source::CommitInfo {
            id: "0123456789abcdef".into(),
            author: "Ada <ada@example.org>".into(),
            summary: "zones".into(),
            time: 0,
        };
        let listed: Vec<(&str, &str)> = files
            .iter()
            .map(|(path, text)| (*path, text.unwrap_or_default()))
            .collect();
        let read = files.iter().map(|(_, text)| text.map(str::to_string));
        (Snapshot::in_memory(commit, &listed), read.collect())
    }

    fn quotas(resources: usize) -> Quotas {
        Quotas {
            resources,
            ..Quotas::default()
        }
    }

    #[tokio::test]
    async fn resources_over_the_quota_stop_the_load_before_any_file_is_parsed() {
        // Four resources, then a syntax error the parser would report, and
        // no providers at all: the count comes first.
        let first = "[[dns.zone]]\nname = \"a.\"\n[[dns.zone]]\nname = \"b.\"\n";
        let second = "dns.zone = [{ name = \"c.\" }, { name = \"d.\" }]\nbroken = \n";
        let (snapshot, read) = snapshot(&[("a.toml", Some(first)), ("b.toml", Some(second))]);
        let outcome = load_files(
            &snapshot,
            &read,
            &BTreeMap::new(),
            &KnownFiles::default(),
            &quotas(3),
        )
        .await;
        let Err(LoadError::Quota(error)) = outcome else {
            panic!("not the quota's error");
        };
        assert_eq!((error.key, error.actual, error.limit), ("resources", 4, 3));
        let message = error.to_string();
        assert!(
            message.starts_with("quota exceeded: the number of resources at commit 0123456789ab is 4, more than `quotas.resources = 3` allows (it went over at b.toml:1:30)."),
            "{message}"
        );
        assert!(message.contains("raise `quotas.resources`"), "{message}");

        // At the quota, the files are parsed (and the syntax error found).
        let outcome = load_files(
            &snapshot,
            &read,
            &BTreeMap::new(),
            &KnownFiles::default(),
            &quotas(4),
        )
        .await;
        let Err(LoadError::Invalid(invalid)) = outcome else {
            panic!("not parsed");
        };
        assert!(invalid.diagnostics[0].message.contains("invalid TOML"));
    }

    #[tokio::test]
    async fn values_over_the_quota_stop_the_load_before_any_file_is_parsed() {
        // One resource, but its array could hold millions of entries.
        let text = "[[dns.zone]]\nname = \"a.\"\nx = [1, 2, 3]\nbroken = \n";
        let (snapshot, read) = snapshot(&[("a.toml", Some(text))]);
        let values = Quotas {
            values: 4,
            ..Quotas::default()
        };
        let outcome = load_files(
            &snapshot,
            &read,
            &BTreeMap::new(),
            &KnownFiles::default(),
            &values,
        )
        .await;
        let Err(LoadError::Quota(error)) = outcome else {
            panic!("not the quota's error");
        };
        // The header, `name`, the array, and the array's entries.
        assert_eq!((error.key, error.actual, error.limit), ("values", 6, 4));
        let message = error.to_string();
        assert!(
            message.contains("the number of TOML values in the resource files at commit 0123456789ab is 6, more than `quotas.values = 4` allows (it went over at a.toml:3:9)"),
            "{message}"
        );
    }

    #[test]
    fn resources_of_files_the_cache_knows_count_too() {
        let resource = |name: &str, line: usize| {
            FileResource::new(
                Address::parse(&format!("dns/zone/{name}")).unwrap(),
                crate::model::Spec::new(&serde_json::json!({"name": name})),
                Default::default(),
                Vec::new(),
                (0..1, 0..1),
                crate::model::diagnostic::Location {
                    file: "known.toml".into(),
                    line,
                    column: 1,
                },
            )
        };
        let (snapshot, read) = snapshot(&[
            ("a.toml", Some("[[dns.zone]]\nname = \"a.\"\n")),
            ("known.toml", None),
        ]);
        let known: KnownFiles = [(
            "blob of known.toml".to_string(),
            Arc::new(CachedFile {
                values: 4,
                resources: vec![resource("b.", 1), resource("c.", 4)],
            }),
        )]
        .into_iter()
        .collect();
        // The file read holds two values, the known one four.
        assert_eq!(
            check_counts(&snapshot, &read, &known, &quotas(3)).unwrap(),
            [2, 4]
        );
        let error = check_counts(&snapshot, &read, &known, &quotas(2)).unwrap_err();
        assert_eq!((error.key, error.actual), ("resources", 3));
        assert_eq!(error.at.as_deref(), Some("known.toml:4:1"));
        let values = Quotas {
            values: 5,
            ..Quotas::default()
        };
        let error = check_counts(&snapshot, &read, &known, &values).unwrap_err();
        assert_eq!((error.key, error.actual), ("values", 6));
        assert_eq!(error.at.as_deref(), Some("known.toml"));
    }
}
