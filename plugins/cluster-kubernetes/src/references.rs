//! What an object refers to, checked when planning: the namespace it lives
//! in. An object can only be written into a namespace that exists, so one
//! whose namespace neither the commit declares (a `Namespace` object, as
//! an `object` resource or inside manifests) nor the cluster has could
//! only fail at apply; it is an error of the plan instead.

use crate::cluster::{Cluster, Item};
use cairn_sdk::{Declarations, Diagnostic, Error};
use std::collections::BTreeSet;

/// The kind whose objects are namespaces.
const NAMESPACE_KIND: &str = "Namespace";

/// The namespaces the commit declares: `object` resources of kind
/// `Namespace` (their ids are `Namespace/NAME`), and `Namespace` objects
/// among `items` (those of this call, manifests included).
pub fn declared_namespaces<'a>(
    declarations: &Declarations,
    object_type: &str,
    items: impl Iterator<Item = &'a Item>,
) -> BTreeSet<String> {
    let mut namespaces: BTreeSet<String> = declarations
        .ids(object_type)
        .filter_map(|id| id.strip_prefix(&format!("{NAMESPACE_KIND}/")))
        .map(str::to_string)
        .collect();
    namespaces.extend(
        items
            .filter(|item| item.desired.is_some() && item.reference.kind == NAMESPACE_KIND)
            .map(|item| item.reference.name.clone()),
    );
    namespaces
}

/// An error for each object of `items` to be written whose namespace is
/// neither in `declared` nor on the cluster; `path` is where the resource
/// names it (`metadata/namespace` for an `object`, the whole resource for
/// manifests).
pub fn missing_namespaces(
    items: &[Item],
    declared: &BTreeSet<String>,
    cluster: &Cluster,
    path: &str,
) -> Result<Vec<Diagnostic>, Error> {
    let mut problems = Vec::new();
    let mut reported = BTreeSet::new();
    for item in items.iter().filter(|item| item.desired.is_some()) {
        let Some(namespace) = item.reference.namespace.as_deref() else {
            continue;
        };
        if declared.contains(namespace)
            || reported.contains(namespace)
            || cluster.namespace_exists(namespace)?
        {
            continue;
        }
        reported.insert(namespace.to_string());
        problems.push(
            Diagnostic::error(
                path,
                format!(
                    "the namespace `{namespace}` of {} is neither declared in this commit nor on the cluster",
                    item.reference.id()
                ),
            )
            .with_help(format!(
                "declare it (a `Namespace` object named `{namespace}`), or correct `metadata.namespace`"
            )),
        );
    }
    Ok(problems)
}
