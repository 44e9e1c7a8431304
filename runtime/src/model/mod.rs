//! The desired-state model: the resources a commit declares, validated and
//! canonicalized by their providers, with addresses, dependencies and
//! lifecycle flags.
//!
//! Loading is all-or-nothing: every problem of every file is collected and
//! reported with its file, line and column, and if there is any, nothing of
//! the commit is applied.

pub mod diagnostic;
pub mod graph;
pub mod parse;

use crate::host::types::Severity;
use crate::host::{PluginError, ProviderInstance};
use crate::source::{CommitInfo, Snapshot};
use diagnostic::{FileText, InvalidState, Location, SourceDiagnostic};
use parse::RawResource;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// A resource's address: `PROVIDER/TYPE/ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Address {
    /// The provider instance.
    pub provider: String,
    /// The resource type.
    pub type_name: String,
    /// The id, built from the identity fields.
    pub id: String,
}

impl Address {
    /// Parses `PROVIDER/TYPE/ID`; the id may itself contain `/`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '/');
        let (provider, type_name, id) = (parts.next()?, parts.next()?, parts.next()?);
        if provider.is_empty() || type_name.is_empty() || id.is_empty() {
            return None;
        }
        Some(Self {
            provider: provider.to_string(),
            type_name: type_name.to_string(),
            id: id.to_string(),
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.provider, self.type_name, self.id)
    }
}

impl From<Address> for String {
    fn from(address: Address) -> Self {
        address.to_string()
    }
}

impl TryFrom<String> for Address {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("`{text}` is not an address PROVIDER/TYPE/ID"))
    }
}

/// What happens to an object when its resource leaves Git.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// Delete the object (the default).
    #[default]
    Delete,
    /// Leave the object and forget it.
    Orphan,
}

/// Per-resource lifecycle flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Never delete or replace the object.
    #[serde(default)]
    pub protect: bool,
    /// Fields never updated once the object exists.
    #[serde(default)]
    pub ignore_changes: Vec<String>,
    /// What to do when the resource leaves Git.
    #[serde(default)]
    pub on_delete: OnDelete,
    /// Take over an existing object Cairn did not create.
    #[serde(default)]
    pub adopt: bool,
}

/// One validated resource.
#[derive(Debug, Clone)]
pub struct DesiredResource {
    /// Its address.
    pub address: Address,
    /// The canonical spec.
    pub spec: serde_json::Value,
    /// The addresses it must come after.
    pub depends_on: Vec<Address>,
    /// Its lifecycle flags.
    pub lifecycle: Lifecycle,
    /// Where it is declared.
    pub origin: Location,
}

/// Everything a commit declares, valid.
#[derive(Debug)]
pub struct DesiredState {
    /// The commit.
    pub commit: CommitInfo,
    /// The resources, in the order they are declared (file, then position).
    pub resources: Vec<DesiredResource>,
    /// Providers' warnings, which do not stop anything.
    pub warnings: Vec<SourceDiagnostic>,
}

/// Why a commit's desired state could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// The files have problems.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] InvalidState),
    /// A provider could not validate.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let location = FileText::new("", text.to_string()).location(offset);
    (location.line, location.column)
}

/// Parses and validates every resource file of `snapshot`.
pub async fn load(
    snapshot: &Snapshot,
    providers: &BTreeMap<String, Arc<ProviderInstance>>,
) -> Result<DesiredState, LoadError> {
    let mut problems: Vec<SourceDiagnostic> = Vec::new();
    let mut raw: Vec<RawResource> = Vec::new();
    for file in &snapshot.files {
        let text = FileText::new(&file.path, file.text.clone());
        match parse::parse_file(&text) {
            Ok(mut resources) => raw.append(&mut resources),
            Err(mut errors) => problems.append(&mut errors),
        }
    }

    // Provider and type names must be known.
    let known_providers = || providers.keys().cloned().collect::<Vec<_>>().join(", ");
    raw.retain(|resource| {
        let (name, span) = &resource.provider;
        let Some(provider) = providers.get(name) else {
            let help = if providers.is_empty() {
                "this tenant has no providers: add [tenants.NAME.providers.NAME] to cairn.toml"
                    .to_string()
            } else {
                format!("the providers of this tenant are: {}", known_providers())
            };
            problems.push(
                SourceDiagnostic::new(
                    &resource.file,
                    span.clone(),
                    format!("unknown provider `{name}`"),
                )
                .with_label("no provider instance has this name")
                .with_help(help),
            );
            return false;
        };
        let (type_name, type_span) = &resource.type_name;
        if provider.info().resource_type(type_name).is_none() {
            let types: Vec<&str> = provider
                .info()
                .resource_types
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            problems.push(
                SourceDiagnostic::new(
                    &resource.file,
                    type_span.clone(),
                    format!("provider `{name}` has no resource type `{type_name}`"),
                )
                .with_help(format!("its types are: {}", types.join(", "))),
            );
            return false;
        }
        true
    });

    // Each provider validates its resources in one batched call.
    let mut by_provider: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, resource) in raw.iter().enumerate() {
        by_provider
            .entry(resource.provider.0.as_str())
            .or_default()
            .push(index);
    }
    let calls = by_provider.iter().map(|(name, indexes)| {
        let batch: Vec<(String, serde_json::Value)> = indexes
            .iter()
            .map(|&i| (raw[i].type_name.0.clone(), raw[i].spec.clone()))
            .collect();
        let provider = providers[*name].clone();
        async move { provider.validate(&batch).await }
    });
    let results = futures::future::join_all(calls).await;

    let mut canonical: Vec<Option<serde_json::Value>> = vec![None; raw.len()];
    let mut warnings = Vec::new();
    for ((_, indexes), result) in by_provider.iter().zip(results) {
        let validations = result?;
        for (&index, validation) in indexes.iter().zip(validations) {
            let resource = &raw[index];
            let mut has_error = false;
            for diagnostic in validation.diagnostics {
                let span = resource.span_of(&diagnostic.path);
                let at = if diagnostic.path.is_empty() {
                    String::new()
                } else {
                    format!(" `{}`", diagnostic.path.replace('/', "."))
                };
                let mut source = SourceDiagnostic::new(
                    &resource.file,
                    span,
                    format!(
                        "{}.{}{at}: {}",
                        resource.provider.0, resource.type_name.0, diagnostic.message
                    ),
                );
                if let Some(help) = diagnostic.help {
                    source = source.with_help(help);
                }
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
                None => problems.push(SourceDiagnostic::new(
                    &resource.file,
                    resource.span.clone(),
                    format!(
                        "provider `{}` rejected the resource without saying why",
                        resource.provider.0
                    ),
                )),
            }
        }
    }

    // Addresses from the identity fields; duplicates name both places.
    let mut resources: Vec<DesiredResource> = Vec::new();
    let mut origin_of: Vec<&RawResource> = Vec::new();
    let mut seen: HashMap<Address, usize> = HashMap::new();
    for (index, spec) in canonical.into_iter().enumerate() {
        let Some(spec) = spec else { continue };
        let resource = &raw[index];
        let provider = &providers[&resource.provider.0];
        let identity = &provider
            .info()
            .resource_type(&resource.type_name.0)
            .expect("type checked above")
            .identity;
        let id = match identity_of(&spec, identity) {
            Ok(id) => id,
            Err(field) => {
                problems.push(
                    SourceDiagnostic::new(
                        &resource.file,
                        resource.span.clone(),
                        format!("the resource has no `{field}`, which identifies it"),
                    )
                    .with_help(format!("set {}", identity.join(" and "))),
                );
                continue;
            }
        };
        let address = Address {
            provider: resource.provider.0.clone(),
            type_name: resource.type_name.0.clone(),
            id,
        };
        if let Some(&first) = seen.get(&address) {
            let earlier = origin_of[first];
            problems.push(
                SourceDiagnostic::new(
                    &resource.file,
                    resource.span_of(identity.first().map_or("", String::as_str)),
                    format!("duplicate resource {address}"),
                )
                .with_label("declared again here")
                .with_help(
                    "each address may be declared once: remove one of them or change its identity",
                )
                .with_related(
                    SourceDiagnostic::new(
                        &earlier.file,
                        earlier.span_of(identity.first().map_or("", String::as_str)),
                        format!("{address} is first declared here"),
                    )
                    .with_label("first declared here"),
                ),
            );
            continue;
        }
        seen.insert(address.clone(), resources.len());
        origin_of.push(resource);
        resources.push(DesiredResource {
            address,
            spec,
            depends_on: Vec::new(),
            lifecycle: resource.lifecycle.clone(),
            origin: resource.file.location(resource.span.start),
        });
    }

    // depends_on must name declared resources, without cycles.
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); resources.len()];
    for (index, resource) in origin_of.iter().enumerate() {
        for (text, span) in &resource.depends_on {
            let target =
                Address::parse(text).and_then(|address| seen.get(&address).map(|&i| (address, i)));
            match target {
                Some((address, target)) => {
                    edges[index].push(target);
                    resources[index].depends_on.push(address);
                }
                None => {
                    let mut problem = SourceDiagnostic::new(
                        &resource.file,
                        span.clone(),
                        format!(
                            "depends_on names `{text}`, which no resource of this commit declares"
                        ),
                    );
                    problem = match similar_address(text, seen.keys()) {
                        Some(similar) => problem.with_help(format!("did you mean `{similar}`?")),
                        None => problem.with_help("addresses are PROVIDER/TYPE/ID, with the id in canonical form (as `cairn plan` prints it)"),
                    };
                    problems.push(problem);
                }
            }
        }
    }
    if problems.is_empty()
        && let Some(cycle) = graph::find_cycle(&edges)
    {
        let names: Vec<String> = cycle
            .iter()
            .map(|&i| resources[i].address.to_string())
            .collect();
        let first = origin_of[cycle[0]];
        let span = first
            .depends_on
            .iter()
            .find(|(text, _)| *text == names[1])
            .map_or(first.span.clone(), |(_, span)| span.clone());
        problems.push(
            SourceDiagnostic::new(
                &first.file,
                span,
                format!("dependency cycle: {}", names.join(" → ")),
            )
            .with_label("this dependency closes the cycle")
            .with_help("remove one of these depends_on entries"),
        );
    }

    if !problems.is_empty() {
        return Err(InvalidState {
            commit: snapshot.commit.short_id().to_string(),
            diagnostics: problems,
        }
        .into());
    }
    Ok(DesiredState {
        commit: snapshot.commit.clone(),
        resources,
        warnings,
    })
}

/// The id: the identity fields' values joined by `/`; `Err(field)` names a
/// missing one.
fn identity_of(spec: &serde_json::Value, identity: &[String]) -> Result<String, String> {
    let mut parts = Vec::with_capacity(identity.len());
    for field in identity {
        match spec.get(field) {
            Some(serde_json::Value::String(text)) if !text.is_empty() => parts.push(text.clone()),
            Some(serde_json::Value::Number(number)) => parts.push(number.to_string()),
            _ => return Err(field.clone()),
        }
    }
    Ok(parts.join("/"))
}

/// A declared address equal to `text` but for case and a trailing dot.
fn similar_address<'a>(text: &str, known: impl Iterator<Item = &'a Address>) -> Option<String> {
    let normalize = |s: &str| {
        s.trim_end_matches('.')
            .to_ascii_lowercase()
            .replace("./", "/")
    };
    let wanted = normalize(text);
    known
        .map(ToString::to_string)
        .find(|address| normalize(address) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_on_the_first_two_slashes() {
        let address = Address::parse("dns/record/www.example.org./A").unwrap();
        assert_eq!(address.provider, "dns");
        assert_eq!(address.type_name, "record");
        assert_eq!(address.id, "www.example.org./A");
        assert_eq!(address.to_string(), "dns/record/www.example.org./A");
        assert!(Address::parse("dns/record").is_none());
    }

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        let second = text.rfind('=').unwrap();
        assert_eq!(line_column(text, second), (2, 4));
    }

    #[test]
    fn near_misses_in_depends_on_get_a_suggestion() {
        let known = [Address::parse("dns/zone/example.org.").unwrap()];
        assert_eq!(
            similar_address("dns/zone/Example.org", known.iter()).as_deref(),
            Some("dns/zone/example.org.")
        );
    }
}
