//! # cluster-kubernetes: a Cairn provider for Kubernetes clusters
//!
//! Each provider instance is one cluster: its API server's URL, the CA
//! bundle of its certificate (in the network grant) and a bearer token
//! (the secret `token`). Two resource types:
//!
//! - `object`: any Kubernetes object written in TOML (`apiVersion`,
//!   `kind`, `metadata`, the rest); id `NAMESPACE/KIND/NAME`, or
//!   `KIND/NAME` for cluster-scoped kinds.
//! - `manifests`: existing YAML files of the repository (names or globs);
//!   the host reads them from the same commit and hands over their
//!   documents.
//!
//! Objects are applied by server-side apply as field manager `cairn`.
//! Plans compare a server-side dry-run apply with the live object, both
//! without what the server owns, so defaulted fields never show. Every
//! object carries the label `app.kubernetes.io/managed-by=cairn` and the
//! annotations `cairn.dev/tenant` and `cairn.dev/address`; only objects
//! with all three are ever deleted. Namespaces and CRDs are applied first
//! (a CRD is waited for until established), deletes go in reverse. An
//! object's recorded state carries the keyed mark of the body its apply
//! sent ([`applied`]): an object observed exactly as that apply left it,
//! declared with the same body, is no change without a dry run.

mod api;
mod applied;
mod cluster;
mod config;
mod defaults;
mod discovery;
mod live;
mod manifests;
mod object;
mod references;

use api::{Api, Selected};
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{
    Action, Change, Declarations, DiffInput, Error, ErrorKind, FieldChange, Observed, Outcome,
    Provider, ProviderInfo, Resource, ResourceType, Scope, Secrets, Validation,
};
use cluster::{Cluster, Item, ItemPlan};
use config::Config;
use object::ObjectRef;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The `object` resource type's name.
const OBJECT: &str = "object";

/// A configured cluster provider.
pub struct Kubernetes {
    config: Config,
    api: Api,
}

impl Provider for Kubernetes {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "kubernetes".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Kubernetes objects by server-side apply, through the cluster's API server".into(),
            resource_types: vec![
                ResourceType::new(
                    OBJECT,
                    "any Kubernetes object, written in TOML",
                    &["metadata/namespace?", "kind", "metadata/name"],
                )
                .schema(json!({
                    "type": "object",
                    "required": ["apiVersion", "kind", "metadata"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"},
                            "namespace": {"type": "string", "description": "absent for a cluster-scoped object"}
                        }},
                        applied::FIELD: {
                            "type": "string",
                            "writeOnly": true,
                            "description": "in a recorded state only: the keyed digest of the body its apply sent, never observed"
                        }
                    }
                })),
                ResourceType::new(
                    manifests::TYPE_NAME,
                    "YAML manifests from the repository, applied as they are",
                    &["name"],
                )
                .schema(manifests::schema()),
            ],
            config_schema: config::schema(),
        }
    }

    fn configure(config: Value, secrets: Secrets, _owner: &str) -> Result<Self, Error> {
        let config = Config::parse(&config, secrets)?;
        let api = Api::new(&config.url, &config.token);
        Ok(Self { config, api })
    }

    fn validate(resource: &Resource) -> Validation {
        match resource.type_name.as_str() {
            OBJECT => match object::validate(&resource.spec, "") {
                Ok(canonical) => Validation::valid(canonical),
                Err(problems) => Validation::invalid(problems),
            },
            manifests::TYPE_NAME => manifests::validate(&resource.spec),
            other => Validation::invalid(vec![cairn_sdk::Diagnostic::error(
                "",
                format!("unknown resource type `{other}`"),
            )]),
        }
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        let cluster = Cluster::new(&self.config, &self.api);
        let mut observed = Vec::new();
        let (objects, sets): (Vec<&String>, Vec<&String>) =
            scope.ids.iter().partition(|id| id.contains('/'));
        if scope.wants(OBJECT) && !objects.is_empty() {
            observed.extend(self.list_objects(&cluster, &objects)?);
        }
        if scope.wants(manifests::TYPE_NAME) && !sets.is_empty() {
            observed.extend(self.list_sets(&cluster, &sets)?);
        }
        Ok(observed)
    }

    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        declarations: &Declarations,
    ) -> Result<Vec<Change>, Error> {
        // Objects exactly as applying the same body left them need no dry
        // run (see `applied`); the others are planned together below.
        let (settled, inputs): (Vec<Numbered>, Vec<Numbered>) = inputs
            .into_iter()
            .enumerate()
            .partition(|(_, input)| self.as_applied(input));
        let order: Vec<usize> = inputs.iter().map(|(index, _)| *index).collect();
        let prepared: Vec<(DiffInput, Vec<Item>)> = inputs
            .into_iter()
            .map(|(_, input)| {
                let address = self.config.address(&input.type_name, &input.id);
                let items = match input.type_name.as_str() {
                    OBJECT => object_items(
                        &address,
                        &input.id,
                        input.desired.as_ref(),
                        input.observed.as_ref(),
                    ),
                    _ => {
                        manifests::items(&address, input.desired.as_ref(), input.observed.as_ref())
                    }
                };
                (input, items)
            })
            .collect();
        let cluster = Cluster::for_items(
            &self.config,
            &self.api,
            prepared.iter().flat_map(|(_, items)| items),
        );
        let namespaces = references::declared_namespaces(
            declarations,
            OBJECT,
            prepared.iter().flat_map(|(_, items)| items),
        );
        let mut problems = Vec::with_capacity(prepared.len());
        for (input, items) in &prepared {
            let path = if input.type_name == OBJECT {
                "metadata/namespace"
            } else {
                ""
            };
            problems.push(references::missing_namespaces(
                items,
                &namespaces,
                &cluster,
                path,
            )?);
        }
        // Every object of every input planned at once, so that their dry
        // runs go out side by side.
        let all: Vec<&Item> = prepared.iter().flat_map(|(_, items)| items).collect();
        let mut plans = cluster.plan_all(&all).into_iter();
        let planned = prepared
            .into_iter()
            .zip(problems)
            .map(|((input, items), problems)| {
                let plans: Vec<(Item, ItemPlan)> = items
                    .into_iter()
                    .map(|item| (item, plans.next().expect("one plan per object")))
                    .collect();
                let (action, summary, fields) = if input.type_name == OBJECT {
                    summarize_object(&input.id, plans)
                } else {
                    summarize_set(input.desired.is_some(), input.observed.is_some(), plans)
                };
                let mut change = input.into_change(action, summary, fields);
                change.diagnostics = problems;
                change
            });
        let mut changes: Vec<(usize, Change)> = order.into_iter().zip(planned).collect();
        changes.extend(settled.into_iter().map(|(index, input)| {
            let summary = format!("{} is as its last apply left it", input.id);
            (index, input.into_change(Action::NoOp, summary, Vec::new()))
        }));
        changes.sort_by_key(|(index, _)| *index);
        Ok(changes.into_iter().map(|(_, change)| change).collect())
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        // Every object of every change, in one order: applies by rank,
        // then deletes in reverse rank.
        let mut work: Vec<(usize, Item)> = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            let address = self.config.address(&change.type_name, &change.id);
            let desired = match change.action {
                Action::Delete => None,
                _ => change.desired.as_ref(),
            };
            let items = if change.type_name == OBJECT {
                object_items(&address, &change.id, desired, change.observed.as_ref())
            } else {
                manifests::items(&address, desired, change.observed.as_ref())
            };
            work.extend(items.into_iter().map(|item| (index, item)));
        }
        let cluster =
            Cluster::for_items(&self.config, &self.api, work.iter().map(|(_, item)| item));
        let rank = |item: &Item| {
            item.desired
                .as_ref()
                .or(item.live.as_ref())
                .map_or(3, cluster::rank)
        };
        let (mut applies, mut deletes): (Vec<_>, Vec<_>) = work
            .into_iter()
            .partition(|(_, item)| item.desired.is_some());
        applies.sort_by_key(|(_, item)| rank(item));
        deletes.sort_by_key(|(_, item)| std::cmp::Reverse(rank(item)));

        let mut states: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new(); changes.len()];
        let mut failures: Vec<Vec<(String, Error)>> = vec![Vec::new(); changes.len()];
        let mut total = vec![0usize; changes.len()];
        // The applies of one rank side by side, rank after rank; then the
        // deletes one by one.
        for group in applies.chunk_by(|(_, a), (_, b)| rank(a) == rank(b)) {
            let items: Vec<&Item> = group.iter().map(|(_, item)| item).collect();
            for ((index, item), result) in group.iter().zip(cluster.apply_all(&items)) {
                total[*index] += 1;
                let id = item.reference.id();
                match result {
                    Ok(state) => {
                        states[*index].insert(id, state);
                    }
                    Err(error) => failures[*index].push((id, error)),
                }
            }
        }
        for (index, item) in deletes {
            total[index] += 1;
            let id = item.reference.id();
            if let Err(error) = cluster.delete(&item) {
                failures[index].push((id, error));
            }
        }
        changes
            .iter()
            .zip(states.into_iter().zip(failures).zip(total))
            .map(|(change, ((mut states, failures), total))| {
                if let Some(error) = merged_failure(&change.type_name, failures, total) {
                    return Outcome::Failed(error);
                }
                match (change.action, change.type_name.as_str()) {
                    (Action::Delete, _) => Outcome::Applied(None),
                    (_, OBJECT) => Outcome::Applied(
                        states
                            .remove(&change.id)
                            .map(|state| self.marked(change, state)),
                    ),
                    _ => Outcome::Applied(Some(manifests::state(&change.id, states))),
                }
            })
            .collect()
    }
}

/// A `diff` input with its place among the inputs, so that the changes
/// go back in the order asked.
type Numbered = (usize, DiffInput);

impl Kubernetes {
    /// Whether `input` is an `object` exactly as applying the body its
    /// declared object makes left it ([`applied::as_applied`]).
    fn as_applied(&self, input: &DiffInput) -> bool {
        let (Some(desired), Some(observed), Some(prior)) =
            (&input.desired, &input.observed, &input.prior)
        else {
            return false;
        };
        let address = self.config.address(&input.type_name, &input.id);
        input.type_name == OBJECT
            && applied::body_of(desired, &self.config, &address).is_some_and(|body| {
                applied::as_applied(&body, observed, prior, self.config.token.as_bytes())
            })
    }

    /// The state an `object`'s apply returned, with the mark of the body
    /// it sent.
    fn marked(&self, change: &Change, state: Value) -> Value {
        let address = self.config.address(&change.type_name, &change.id);
        match change
            .desired
            .as_ref()
            .and_then(|desired| applied::body_of(desired, &self.config, &address))
        {
            Some(body) => applied::marked(state, &body, self.config.token.as_bytes()),
            None => state,
        }
    }

    /// Observes `object` resources: one label-selected list per kind and
    /// namespace, then a GET for each id the lists did not find (an object
    /// without Cairn's label, which the host then sees as not its own).
    fn list_objects(&self, cluster: &Cluster, ids: &[&String]) -> Result<Vec<Observed>, Error> {
        let wanted: Vec<ObjectRef> = ids.iter().filter_map(|id| ObjectRef::parse(id)).collect();
        let mut groups: BTreeMap<(String, Option<String>), Vec<&ObjectRef>> = BTreeMap::new();
        for reference in &wanted {
            groups
                .entry((reference.kind.clone(), reference.namespace.clone()))
                .or_default()
                .push(reference);
        }
        let selector = format!("{}={}", object::MANAGED_BY_LABEL, object::MANAGED_BY);
        let mut served_groups = Vec::with_capacity(groups.len());
        for ((kind, namespace), references) in groups {
            if let Some(served) = cluster.discovery.resolve_kind(&kind)? {
                let collection = served.collection(namespace.as_deref());
                served_groups.push((served, collection, references));
            }
        }
        // Every collection's list side by side, then the listings of
        // those where some were not found, side by side too.
        let lists: Vec<Selected> = served_groups
            .iter()
            .map(|(served, collection, _)| Selected {
                path: collection,
                selector: &selector,
                api_version: &served.api_version,
                kind: &served.kind,
            })
            .collect();
        let listed = self.api.list_all(&lists);
        let mut found: BTreeMap<String, Value> = BTreeMap::new();
        let mut missing_by_group = Vec::with_capacity(served_groups.len());
        for ((_, _, references), listed) in served_groups.iter().zip(listed) {
            let wanted_here: HashSet<String> = references.iter().map(|r| r.id()).collect();
            for live in listed? {
                if let Some(id) = ObjectRef::of(&live).map(|r| r.id())
                    && wanted_here.contains(&id)
                    && !live::is_terminating(&live)
                {
                    found.insert(id, cluster.keep(live));
                }
            }
            let missing: Vec<&ObjectRef> = references
                .iter()
                .copied()
                .filter(|reference| !found.contains_key(&reference.id()))
                .collect();
            missing_by_group.push(missing);
        }
        let wanted: Vec<(String, usize)> = served_groups
            .iter()
            .zip(&missing_by_group)
            .map(|((_, collection, _), missing)| (collection.clone(), missing.len()))
            .collect();
        cluster.list_ahead(&wanted);
        // The rest, found only by name: one list of the collection's
        // metadata tells which exist, where many are missing.
        for ((served, collection, _), missing) in served_groups.iter().zip(missing_by_group) {
            let listing = cluster.listing(collection, missing.len())?;
            for reference in missing {
                if listing
                    .as_ref()
                    .is_some_and(|listing| !listing.contains_key(&reference.name))
                {
                    continue;
                }
                let id = reference.id();
                if let Some(live) = self.api.get(&served.object_path(reference))?
                    && !live::is_terminating(&live)
                {
                    found.insert(id, cluster.keep(live));
                }
            }
        }
        Ok(found
            .into_iter()
            .map(|(id, state)| Observed {
                type_name: OBJECT.into(),
                id,
                state,
                vouched: false,
            })
            .collect())
    }

    /// Observes `manifests` resources: a label-selected list over every
    /// listable kind, keeping the objects annotated with this tenant and
    /// one of the sets' addresses. Sets with no object are absent.
    fn list_sets(&self, cluster: &Cluster, names: &[&String]) -> Result<Vec<Observed>, Error> {
        let addresses: BTreeMap<String, &String> = names
            .iter()
            .map(|name| (self.config.address(manifests::TYPE_NAME, name), *name))
            .collect();
        let selector = format!("{}={}", object::MANAGED_BY_LABEL, object::MANAGED_BY);
        let mut sets: BTreeMap<&String, BTreeMap<String, Value>> = BTreeMap::new();
        for kind in cluster.discovery.listable()? {
            let listed = self.api.list(
                &kind.collection(None),
                &selector,
                &kind.api_version,
                &kind.kind,
            )?;
            for live in listed {
                let address = live
                    .pointer("/metadata/annotations")
                    .and_then(|annotations| annotations.get(object::ADDRESS_ANNOTATION))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let Some(name) = addresses.get(&address) else {
                    continue;
                };
                if !object::is_owned(&live, &self.config, &address) || live::is_terminating(&live) {
                    continue;
                }
                let Some(id) = ObjectRef::of(&live).map(|r| r.id()) else {
                    continue;
                };
                // A kind served by two groups lists the same object twice.
                sets.entry(name)
                    .or_default()
                    .entry(id)
                    .or_insert_with(|| cluster.keep(live));
            }
        }
        Ok(sets
            .into_iter()
            .map(|(name, objects)| Observed {
                type_name: manifests::TYPE_NAME.into(),
                id: name.clone(),
                state: manifests::state(name, objects),
                vouched: false,
            })
            .collect())
    }
}

/// The one item of an `object` resource.
fn object_items(
    address: &str,
    id: &str,
    desired: Option<&Value>,
    observed: Option<&Value>,
) -> Vec<Item> {
    match ObjectRef::parse(id) {
        Some(reference) => vec![Item {
            reference,
            address: address.to_string(),
            desired: desired.cloned(),
            live: observed.cloned(),
            may_adopt: true,
        }],
        None => Vec::new(),
    }
}

/// The change of an `object` resource from its plan.
fn summarize_object(id: &str, plans: Vec<(Item, ItemPlan)>) -> (Action, String, Vec<FieldChange>) {
    let Some((_, plan)) = plans.into_iter().next() else {
        return (
            Action::NoOp,
            format!("{id} is not an object id"),
            Vec::new(),
        );
    };
    let mut summary = cairn_sdk::diff::summarize(plan.action, &plan.fields);
    if let Some(note) = plan.note {
        summary = format!("{summary} — {note}");
    }
    (plan.action, summary, plan.fields)
}

/// The change of a `manifests` resource from its objects' plans.
fn summarize_set(
    desired: bool,
    observed: bool,
    plans: Vec<(Item, ItemPlan)>,
) -> (Action, String, Vec<FieldChange>) {
    let mut by_action: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut fields = Vec::new();
    let mut notes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (item, plan) in plans {
        let id = item.reference.id();
        let verb = match plan.action {
            Action::NoOp => continue,
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        };
        if plan.action == Action::Delete {
            fields.push(FieldChange {
                path: id.clone(),
                before: Some(Value::String("exists".into())),
                after: None,
                sensitive: false,
            });
        }
        fields.extend(plan.fields.into_iter().map(|mut field| {
            field.path = if field.path.is_empty() {
                id.clone()
            } else {
                format!("{id}/{}", field.path)
            };
            field
        }));
        if let Some(note) = plan.note {
            notes.entry(note).or_default().insert(id.clone());
        }
        by_action.entry(verb).or_default().insert(id);
    }
    let action = match (desired, observed) {
        (false, _) => Action::Delete,
        (true, false) => Action::Create,
        (true, true) if by_action.is_empty() => Action::NoOp,
        (true, true) => Action::Update,
    };
    let mut parts: Vec<String> = by_action
        .iter()
        .map(|(verb, ids)| format!("{verb} {} ({})", ids.len(), manifests::changed_ids(ids)))
        .collect();
    if parts.is_empty() {
        parts.push("no object changes".into());
    }
    let mut summary = parts.join(", ");
    if !notes.is_empty() {
        let notes: Vec<String> = notes
            .iter()
            .map(|(note, ids)| format!("{note} ({})", manifests::changed_ids(ids)))
            .collect();
        summary = format!("{summary} — {}", notes.join("; "));
    }
    (action, summary, fields)
}

/// One error for a change from its objects' failures, `None` when all
/// succeeded.
fn merged_failure(
    type_name: &str,
    mut failures: Vec<(String, Error)>,
    total: usize,
) -> Option<Error> {
    if failures.is_empty() {
        return None;
    }
    if type_name == OBJECT && failures.len() == 1 {
        return failures.pop().map(|(_, error)| error);
    }
    // Some objects were applied: the set was partly made, and a conflict
    // on one object does not say that nothing was (the host keeps a create
    // that failed otherwise as started, and finds out what exists).
    let partly_made = failures.len() < total;
    let kind = failures
        .iter()
        .map(|(_, error)| error.kind)
        .find(|kind| *kind != ErrorKind::Internal && !(partly_made && *kind == ErrorKind::Conflict))
        .unwrap_or(ErrorKind::Internal);
    let details: Vec<String> = failures
        .iter()
        .map(|(id, error)| format!("{id}: {}", error.message))
        .collect();
    Some(Error::new(
        kind,
        format!(
            "{} of {total} objects failed (the others were applied): {}",
            failures.len(),
            details.join("; ")
        ),
    ))
}

cairn_sdk::export_provider!(Kubernetes);

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: ErrorKind) -> (String, Error) {
        ("shop/Service/api".to_string(), Error::new(kind, "refused"))
    }

    #[test]
    fn a_set_partly_made_never_reports_a_conflict() {
        let conflict = |failures: Vec<(String, Error)>, total: usize| {
            merged_failure(manifests::TYPE_NAME, failures, total)
                .expect("a failure")
                .kind
        };
        // Nothing made: the conflict stands, and the host drops the set.
        assert_eq!(
            conflict(vec![failure(ErrorKind::Conflict)], 1),
            ErrorKind::Conflict
        );
        // Some objects made: whatever else failed, not a conflict.
        assert_eq!(
            conflict(vec![failure(ErrorKind::Conflict)], 3),
            ErrorKind::Internal
        );
        assert_eq!(
            conflict(
                vec![failure(ErrorKind::Conflict), failure(ErrorKind::Invalid)],
                3
            ),
            ErrorKind::Invalid
        );
        assert_eq!(
            conflict(vec![failure(ErrorKind::Invalid)], 13),
            ErrorKind::Invalid
        );
        assert!(merged_failure(manifests::TYPE_NAME, Vec::new(), 3).is_none());
        // One object of its own: its error as it is.
        assert_eq!(
            merged_failure(OBJECT, vec![failure(ErrorKind::Conflict)], 1)
                .expect("a failure")
                .kind,
            ErrorKind::Conflict
        );
    }
}
