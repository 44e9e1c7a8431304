//! The checks across files: duplicate addresses, `depends_on` targets and
//! dependency cycles, over every resource of a commit.
//!
//! Each problem is reported once, where it is. A resource its provider
//! refused (or whose manifests could not be read) still counts as declared
//! here, at the address its identity fields give: a `depends_on` naming it
//! is not a second problem of the commit, only the first one again. The
//! address of such a resource is taken from its spec as written, so a
//! target naming it in canonical form (`www.example.org.` for
//! `WWW.example.org`) matches it too. A file that could not be parsed
//! declares nothing anyone knows, and a resource of an unknown provider or
//! type has no address: while either is in the commit, a `depends_on`
//! target they could be is not reported missing.

use super::cache::FileResource;
use super::diagnostic::{FileText, SourceDiagnostic};
use super::{Address, DesiredResource, FastHash, graph};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One resource of the commit, as the checks across files see it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Declared<'a> {
    /// The index of its file in the snapshot.
    pub file: usize,
    /// The resource; for one its provider refused, with its spec as
    /// written.
    pub resource: &'a FileResource,
    /// Whether its provider accepted it.
    pub valid: bool,
}

/// What the commit declares that has no address, and whose targets are
/// therefore not reported missing.
#[derive(Debug, Default)]
pub(super) struct Unknowns {
    /// A file of the commit could not be parsed: it may declare anything.
    pub unparsed_file: bool,
    /// `(provider, type)` of resources whose provider or type is unknown.
    pub types: HashSet<(String, String)>,
}

impl Unknowns {
    /// Whether `target` (a `depends_on` entry) may name something that has
    /// no address here.
    fn may_be(&self, target: &str) -> bool {
        if self.unparsed_file {
            return true;
        }
        let mut parts = target.splitn(3, '/');
        match (parts.next(), parts.next()) {
            (Some(provider), Some(type_name)) => self
                .types
                .contains(&(provider.to_string(), type_name.to_string())),
            _ => false,
        }
    }
}

/// Checks `declared` (in file order) for duplicate addresses, `depends_on`
/// targets that nothing declares, and cycles, adding each problem to
/// `problems`. Returns the valid resources (shared with their files'
/// entries: when `problems` stays empty, each dependency they hold is one
/// found declared here), or `None` when a problem involves a file whose
/// text was not read (`texts[file]` is `None`).
pub(super) fn check(
    declared: &[Declared<'_>],
    texts: &[Option<FileText>],
    unknowns: &Unknowns,
    problems: &mut Vec<SourceDiagnostic>,
) -> Option<Vec<Arc<DesiredResource>>> {
    let mut resources: Vec<Arc<DesiredResource>> = Vec::with_capacity(declared.len());
    // The resources that passed the duplicate check: the nodes of the
    // dependency graph.
    let mut nodes: Vec<Declared<'_>> = Vec::with_capacity(declared.len());
    let mut seen: HashMap<&Address, usize, FastHash> =
        HashMap::with_capacity_and_hasher(declared.len(), FastHash::default());
    for &entry in declared {
        let address = entry.resource.address();
        if let Some(&first) = seen.get(address) {
            let earlier = nodes[first];
            problems.push(duplicate(entry, earlier, texts)?);
            continue;
        }
        seen.insert(address, nodes.len());
        if entry.valid {
            resources.push(entry.resource.resource.clone());
        }
        nodes.push(entry);
    }

    // Refused resources, by their address normalized as `similar_address`
    // compares them, so that a canonical target finds one written another
    // way.
    let refused: HashSet<String> = nodes
        .iter()
        .filter(|node| !node.valid)
        .map(|node| normalize(&node.resource.address().to_string()))
        .collect();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        let Declared { file, resource, .. } = *node;
        for (text, span) in &resource.depends_on {
            let target = Address::parse(text).and_then(|address| seen.get(&address).copied());
            if let Some(target) = target {
                edges[index].push(target);
                continue;
            }
            if refused.contains(&normalize(text)) || unknowns.may_be(text) {
                // Declared, but already reported as it is.
                continue;
            }
            let problem = SourceDiagnostic::new(
                texts[file].as_ref()?,
                span.clone(),
                format!("depends_on names `{text}`, which no resource of this commit declares"),
            );
            problems.push(match similar_address(text, seen.keys().copied()) {
                Some(similar) => problem.with_help(format!("did you mean `{similar}`?")),
                None => problem.with_help(
                    "addresses are PROVIDER/TYPE/ID, with the id in canonical form (as `cairn plan` prints it)",
                ),
            });
        }
    }
    // A cycle is a problem of its own whatever else is wrong: edges left
    // out for a missing target can only hide one, never make one up.
    if let Some(cycle) = graph::find_cycle(&edges) {
        let names: Vec<String> = cycle
            .iter()
            .map(|&i| nodes[i].resource.address().to_string())
            .collect();
        let Declared { file, resource, .. } = nodes[cycle[0]];
        let span = resource
            .depends_on
            .iter()
            .find(|(text, _)| *text == names[1])
            .map_or(resource.span.clone(), |(_, span)| span.clone());
        problems.push(
            SourceDiagnostic::new(
                texts[file].as_ref()?,
                span,
                format!("dependency cycle: {}", names.join(" → ")),
            )
            .with_label("this dependency closes the cycle")
            .with_help("remove one of these depends_on entries"),
        );
    }
    Some(resources)
}

/// The problem of `entry` declaring the address `earlier` declared first.
fn duplicate(
    entry: Declared<'_>,
    earlier: Declared<'_>,
    texts: &[Option<FileText>],
) -> Option<SourceDiagnostic> {
    let address = entry.resource.address();
    Some(
        SourceDiagnostic::new(
            texts[entry.file].as_ref()?,
            entry.resource.identity_span.clone(),
            format!("duplicate resource {address}"),
        )
        .with_label("declared again here")
        .with_help("each address may be declared once: remove one of them or change its identity")
        .with_related(
            SourceDiagnostic::new(
                texts[earlier.file].as_ref()?,
                earlier.resource.identity_span.clone(),
                format!("{address} is first declared here"),
            )
            .with_label("first declared here"),
        ),
    )
}

/// An address as [`similar_address`] compares it: without case and
/// trailing dots.
fn normalize(address: &str) -> String {
    address
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .replace("./", "/")
}

/// A declared address equal to `text` but for case and a trailing dot.
fn similar_address<'a>(text: &str, known: impl Iterator<Item = &'a Address>) -> Option<String> {
    let wanted = normalize(text);
    known
        .map(ToString::to_string)
        .find(|address| normalize(address) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Range;

    #[test]
    fn near_misses_in_depends_on_get_a_suggestion() {
        let known = [Address::parse("dns/zone/example.org.").unwrap()];
        assert_eq!(
            similar_address("dns/zone/Example.org", known.iter()).as_deref(),
            Some("dns/zone/example.org.")
        );
    }

    /// The file `people.toml`: `alan` (refused by its provider, say) first,
    /// then `admins`, which depends on the text of `target`.
    fn people(target: &str) -> (FileText, Vec<FileResource>) {
        let text = format!(
            "[[idp.user]]\nname = \"alan\"\nemail = \"not an email\"\n\n[[idp.group]]\nname = \"admins\"\ndepends_on = [\"{target}\"]\n"
        );
        let file = FileText::new("people.toml", text.clone());
        let at = |needle: &str| -> Range<usize> {
            let start = text.find(needle).unwrap();
            start..start + needle.len()
        };
        let resource = |address: &str, span: Range<usize>, depends_on| {
            FileResource::new(
                Address::parse(address).unwrap(),
                crate::model::Spec::new(&serde_json::json!({})),
                Default::default(),
                depends_on,
                (span.clone(), span.clone()),
                file.location(span.start),
            )
        };
        let target_span = at(&format!("\"{target}\""));
        let resources = vec![
            resource("idp/user/alan", at("name = \"alan\""), Vec::new()),
            resource(
                "idp/group/admins",
                at("name = \"admins\""),
                vec![(target.to_string(), target_span)],
            ),
        ];
        (file, resources)
    }

    fn problems_of(declared: &[Declared<'_>], file: &FileText, unknowns: &Unknowns) -> Vec<String> {
        let mut problems = Vec::new();
        check(declared, &[Some(file.clone())], unknowns, &mut problems).expect("every text read");
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_refused_resource_is_still_declared() {
        let (file, resources) = people("idp/user/alan");
        let declared = [
            Declared {
                file: 0,
                resource: &resources[0],
                valid: false,
            },
            Declared {
                file: 0,
                resource: &resources[1],
                valid: true,
            },
        ];
        assert_eq!(
            problems_of(&declared, &file, &Unknowns::default()),
            Vec::<String>::new()
        );
        // Without it, the target is missing.
        assert_eq!(
            problems_of(&declared[1..], &file, &Unknowns::default()),
            [
                "people.toml:7:15: depends_on names `idp/user/alan`, which no resource of this commit declares"
            ]
        );
    }

    #[test]
    fn a_refused_resource_is_found_by_its_canonical_address() {
        let (file, resources) = people("idp/user/Alan.");
        let declared = [
            Declared {
                file: 0,
                resource: &resources[0],
                valid: false,
            },
            Declared {
                file: 0,
                resource: &resources[1],
                valid: true,
            },
        ];
        assert!(problems_of(&declared, &file, &Unknowns::default()).is_empty());
    }

    #[test]
    fn targets_of_unknown_types_and_unparsed_files_are_not_reported_missing() {
        let (file, resources) = people("idp/user/alan");
        let declared = [Declared {
            file: 0,
            resource: &resources[1],
            valid: true,
        }];
        let unknown_type = Unknowns {
            unparsed_file: false,
            types: [("idp".to_string(), "user".to_string())].into(),
        };
        assert!(problems_of(&declared, &file, &unknown_type).is_empty());
        let other_type = Unknowns {
            unparsed_file: false,
            types: [("idp".to_string(), "person".to_string())].into(),
        };
        assert_eq!(problems_of(&declared, &file, &other_type).len(), 1);
        let unparsed = Unknowns {
            unparsed_file: true,
            types: HashSet::new(),
        };
        assert!(problems_of(&declared, &file, &unparsed).is_empty());
    }

    #[test]
    fn a_cycle_through_a_refused_resource_is_reported_beside_its_problem() {
        let (file, mut resources) = people("idp/user/alan");
        resources[0].depends_on = vec![("idp/group/admins".to_string(), 0..1)];
        let declared = [
            Declared {
                file: 0,
                resource: &resources[0],
                valid: false,
            },
            Declared {
                file: 0,
                resource: &resources[1],
                valid: true,
            },
        ];
        let problems = problems_of(&declared, &file, &Unknowns::default());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .contains("dependency cycle: idp/user/alan → idp/group/admins → idp/user/alan"),
            "{problems:?}"
        );
    }
}
