//! Classifying each resource before any provider compares it: held
//! (its provider did not converge after the last apply, and neither Git's
//! spec nor the plugin changed since), settled (Git did not move and the
//! world is as the last apply left it), a conflict with an object Cairn did
//! not create, an adoption the tenant may not make, a protected or orphaned
//! object leaving Git, an object already gone — or something to `diff`,
//! with the input the provider receives.

use super::gather::Gathered;
use super::{Draft, PlanError};
use crate::model::{Address, DesiredResource, DesiredState, OnDelete};
use crate::plan::port::{Provider, Providers};
use crate::plan::{Diverged, PlanAction, PlanSettings, PlannedChange, digest};
use crate::store::{Divergence, OwnedResource};
use cairn_contract::DiffInput;
use serde_json::Value;
use std::collections::BTreeMap;

/// What one diff input stands for.
pub(super) enum Subject<'a> {
    /// A resource Git declares.
    Desired(&'a DesiredResource),
    /// An owned object that left Git, to delete.
    Removed(&'a OwnedResource),
}

/// One provider's share of the comparison: one batched `diff`.
pub(super) struct ProviderWork<'a, P> {
    /// The provider.
    pub provider: &'a P,
    /// What each input stands for, in the inputs' order.
    pub subjects: Vec<Subject<'a>>,
    /// What the provider compares.
    pub inputs: Vec<DiffInput>,
    /// The commit's other resources of the provider, which an input's
    /// references may point at: every one it declares that is not among
    /// the inputs (settled, or left alone by a [`crate::plan::PlanScope::Changed`]
    /// plan).
    pub declared: Vec<&'a Address>,
}

/// The comparisons to make, by provider instance name.
pub(super) type Work<'a, P> = BTreeMap<&'a str, ProviderWork<'a, P>>;

/// Sorts the desired resources and the owned objects that left Git into
/// what needs no provider (counted unchanged, forgotten, noted) and what
/// each provider compares. Stops on conflicts, then on refused adoptions,
/// naming every resource concerned.
pub(super) fn classify<'a, P: Provider>(
    settings: &PlanSettings,
    providers: &'a Providers<P>,
    desired: &'a DesiredState,
    gathered: &'a Gathered,
) -> Result<(Draft, Work<'a, P>), PlanError> {
    let owned = &gathered.inventory.owned;
    let observed = &gathered.observed;
    let mut draft = Draft {
        unchanged: gathered.left_alone,
        ..Draft::default()
    };
    let mut conflicts = Vec::new();
    let mut refused_adoptions = Vec::new();
    let mut work: Work<'a, P> = BTreeMap::new();
    let mut compared = vec![false; desired.resources.len()];
    let mut write_only = WriteOnly::default();

    for (index, resource) in desired.resources.iter().enumerate() {
        let address = &resource.address;
        if !gathered.examined_in_git[index] {
            continue;
        }
        let seen = observed.get(address);
        let ours = owned.get(address);
        if let Some(divergence) = held(settings, resource, ours) {
            draft.notes.push(format!(
                "{address} is held: after its last apply, {}. It is not applied again until its spec in Git or its provider's plugin changes",
                divergence.reason
            ));
            draft.diverged.push(Diverged {
                address: address.clone(),
                reason: divergence.reason.clone(),
            });
            continue;
        }
        // The world is exactly as the last apply left it, and Git did not
        // move: nothing for the provider to compare.
        if gathered.settled_in_git[index]
            && seen
                .is_some_and(|seen| as_last_applied(seen, ours, write_only.of(providers, address)))
        {
            draft.unchanged += 1;
            continue;
        }
        // An object the store has no record of is the tenant's own when
        // its provider vouches for it (it bears the instance's owner mark):
        // a lost or restored store then plans no conflict.
        let foreign = seen.is_some() && ours.is_none() && !gathered.vouched.contains(address);
        if foreign && !resource.lifecycle.adopt {
            conflicts.push(address.clone());
            continue;
        }
        if foreign && !settings.allow_adopt {
            refused_adoptions.push(address.clone());
            continue;
        }
        let spec = match seen {
            Some(state) => with_ignored_fields(
                &resource.spec.value(),
                state,
                &resource.lifecycle.ignore_changes,
            ),
            None => resource.spec.value(),
        };
        compared[index] = true;
        let entry = work_for(&mut work, providers, &address.provider);
        entry.subjects.push(Subject::Desired(resource));
        entry.inputs.push(DiffInput {
            type_name: address.type_name.clone(),
            id: address.id.clone(),
            desired: Some(spec),
            observed: seen.cloned(),
            prior: ours.map(OwnedResource::state_value).transpose()?.flatten(),
            halt: settings.halt,
        });
    }
    if !conflicts.is_empty() {
        return Err(PlanError::Conflicts(conflicts));
    }
    if !refused_adoptions.is_empty() {
        return Err(PlanError::AdoptNotAllowed(refused_adoptions));
    }

    for resource in gathered.left_git.iter().map(|address| &owned[address]) {
        let address = &resource.address;
        let seen = observed.get(address);
        let forget = |summary: &str| PlannedChange {
            address: address.clone(),
            action: PlanAction::Forget,
            summary: summary.to_string(),
            fields: Vec::new(),
            depends_on: Vec::new(),
            drift: false,
            observed_digest: seen.map(digest),
            desired_digest: None,
            change: None,
            lifecycle: resource.lifecycle.clone(),
            sensitive: Vec::new(),
        };
        if resource.lifecycle.protect {
            draft.notes.push(format!(
                "{address} left Git but is protected: it is kept (remove `protect = true` and apply before removing it, to delete it)"
            ));
        } else if seen.is_none() {
            draft
                .forgets
                .push(forget("already gone from the real world; stop tracking it"));
        } else if resource.lifecycle.on_delete == OnDelete::Orphan {
            draft.forgets.push(forget(
                "left Git; on_delete = \"orphan\" leaves the object in place",
            ));
        } else {
            let entry = work_for(&mut work, providers, &address.provider);
            entry.subjects.push(Subject::Removed(resource));
            entry.inputs.push(DiffInput {
                type_name: address.type_name.clone(),
                id: address.id.clone(),
                desired: None,
                observed: seen.cloned(),
                prior: resource.state_value()?,
                halt: settings.halt,
            });
        }
    }
    // Only providers with something to compare are told.
    for (resource, _) in desired
        .resources
        .iter()
        .zip(&compared)
        .filter(|(_, compared)| !**compared)
    {
        if let Some(share) = work.get_mut(resource.address.provider.as_str()) {
            share.declared.push(&resource.address);
        }
    }
    Ok((draft, work))
}

/// Why `resource` is held: its provider did not converge after its last
/// apply, and since then neither Git's spec (the digest recorded with
/// that apply) nor the provider's plugin (its sha256) changed. `None` when
/// it is not held.
fn held<'o>(
    settings: &PlanSettings,
    resource: &DesiredResource,
    ours: Option<&'o OwnedResource>,
) -> Option<&'o Divergence> {
    let ours = ours?;
    let divergence = ours.diverged.as_ref()?;
    let same_plugin = settings.plugins.get(&resource.address.provider) == Some(&divergence.plugin);
    (same_plugin && !ours.pending && ours.spec_digest == resource.spec.digest())
        .then_some(divergence)
}

fn work_for<'w, 'a, P>(
    work: &'w mut Work<'a, P>,
    providers: &'a Providers<P>,
    provider: &'a str,
) -> &'w mut ProviderWork<'a, P> {
    work.entry(provider).or_insert_with(|| ProviderWork {
        provider: &*providers[provider],
        subjects: Vec::new(),
        inputs: Vec::new(),
        declared: Vec::new(),
    })
}

/// The desired spec with the `ignore_changes` fields taken from the observed
/// state, so that they never show as changes.
pub(crate) fn with_ignored_fields(spec: &Value, observed: &Value, ignored: &[String]) -> Value {
    let mut spec = spec.clone();
    if let (Value::Object(spec_map), Value::Object(observed_map)) = (&mut spec, observed) {
        for field in ignored {
            match observed_map.get(field) {
                Some(value) => {
                    spec_map.insert(field.clone(), value.clone());
                }
                None => {
                    spec_map.remove(field);
                }
            }
        }
    }
    spec
}

/// The top-level properties a resource type's schema marks
/// `"writeOnly": true`: what only the client keeps (a password, a removal
/// policy), which the provider records from the spec applied and no
/// observation shows.
pub(crate) fn write_only_fields(schema: &Value) -> Vec<String> {
    fields_marked(schema, &["writeOnly"])
}

/// The top-level properties `schema` marks `true` with one of `marks`
/// (`readOnly`, `writeOnly`).
pub(crate) fn fields_marked(schema: &Value, marks: &[&str]) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, property)| {
                    marks
                        .iter()
                        .any(|mark| property.get(*mark) == Some(&Value::Bool(true)))
                })
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The write-only fields of each resource type a plan meets, found once
/// per type (a tenant has a few types, and may have ten thousand
/// resources of one).
#[derive(Default)]
struct WriteOnly<'a> {
    known: Vec<(&'a str, &'a str, Vec<String>)>,
}

impl<'a> WriteOnly<'a> {
    /// The write-only fields of `address`'s type.
    fn of<P: Provider>(&mut self, providers: &Providers<P>, address: &'a Address) -> &[String] {
        let (provider, type_name) = (address.provider.as_str(), address.type_name.as_str());
        let position = match self
            .known
            .iter()
            .position(|(p, t, _)| *p == provider && *t == type_name)
        {
            Some(position) => position,
            None => {
                let fields = providers
                    .get(provider)
                    .and_then(|p| p.info().resource_type(type_name))
                    .map(|t| write_only_fields(&t.schema))
                    .unwrap_or_default();
                self.known.push((provider, type_name, fields));
                self.known.len() - 1
            }
        };
        &self.known[position].2
    }
}

/// Whether the observed state `seen` is the state the last apply
/// recorded, `write_only` fields aside: Git did not move, so those hold
/// what they held when recorded, and no observation shows them.
pub(crate) fn same_but_write_only(seen: &Value, recorded: &Value, write_only: &[String]) -> bool {
    match (seen, recorded) {
        (Value::Object(seen), Value::Object(recorded)) if !write_only.is_empty() => {
            let kept = |map: &serde_json::Map<String, Value>| {
                map.keys().filter(|key| !write_only.contains(key)).count()
            };
            kept(seen) == kept(recorded)
                && seen
                    .iter()
                    .filter(|(key, _)| !write_only.contains(key))
                    .all(|(key, value)| recorded.get(key) == Some(value))
        }
        _ => seen == recorded,
    }
}

/// Whether `seen` is the state the last apply of `ours` recorded, its
/// type's `write_only` fields aside ([`same_but_write_only`]). The
/// inventory keeps states as canonical text: without write-only fields,
/// `seen` is written out against that text, byte by byte, without a copy
/// of either; with them, the text is read back.
fn as_last_applied(seen: &Value, ours: Option<&OwnedResource>, write_only: &[String]) -> bool {
    /// A writer that accepts only the bytes of `rest`, in order.
    struct Against<'a> {
        rest: &'a [u8],
    }
    impl std::io::Write for Against<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            match self.rest.strip_prefix(bytes) {
                Some(rest) => {
                    self.rest = rest;
                    Ok(bytes.len())
                }
                None => Err(std::io::Error::other("another text")),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Some(last) = ours.and_then(|o| o.state.as_deref()) else {
        return false;
    };
    if !write_only.is_empty() {
        return serde_json::from_str::<Value>(last)
            .is_ok_and(|recorded| same_but_write_only(seen, &recorded, write_only));
    }
    let mut against = Against {
        rest: last.as_bytes(),
    };
    serde_json::to_writer(&mut against, seen).is_ok() && against.rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignored_fields_take_the_observed_value() {
        let spec = json!({"ttl": 300, "records": ["a"]});
        let observed = json!({"ttl": 60, "records": ["b"]});
        let result = with_ignored_fields(&spec, &observed, &["ttl".to_string()]);
        assert_eq!(result, json!({"ttl": 60, "records": ["a"]}));
    }

    #[test]
    fn a_state_is_as_last_applied_only_when_its_text_is_the_inventorys() {
        let owned = |state: Option<&str>| OwnedResource {
            address: crate::model::Address::parse("dns/record/www").unwrap(),
            spec_digest: String::new(),
            state: state.map(str::to_string),
            lifecycle: Default::default(),
            depends_on: Vec::new(),
            commit_id: String::new(),
            pending: false,
            diverged: None,
            recheck: false,
        };
        let seen = json!({"ttl": 300, "records": ["192.0.2.1"]});
        let text = seen.to_string();
        assert!(as_last_applied(&seen, Some(&owned(Some(&text))), &[]));
        // Longer, shorter, another value, none recorded, not owned.
        assert!(!as_last_applied(
            &seen,
            Some(&owned(Some(&format!("{text} ")))),
            &[]
        ));
        assert!(!as_last_applied(
            &seen,
            Some(&owned(Some(&text[..text.len() - 1]))),
            &[]
        ));
        assert!(!as_last_applied(
            &json!({"ttl": 60}),
            Some(&owned(Some(&text))),
            &[]
        ));
        assert!(!as_last_applied(&seen, Some(&owned(None)), &[]));
        assert!(!as_last_applied(&seen, None, &[]));

        // What only the client keeps is recorded from the spec and never
        // observed: left out on both sides, and nothing else is.
        let write_only = ["password_version".to_string(), "removal".to_string()];
        let recorded =
            json!({"user_name": "ada", "etag": "1", "password_version": 2, "removal": "delete"});
        let text = recorded.to_string();
        let listed = json!({"user_name": "ada", "etag": "1"});
        assert!(!as_last_applied(&listed, Some(&owned(Some(&text))), &[]));
        assert!(as_last_applied(
            &listed,
            Some(&owned(Some(&text))),
            &write_only
        ));
        for moved in [
            json!({"user_name": "ada", "etag": "2"}),
            json!({"user_name": "ada"}),
            json!({"user_name": "ada", "etag": "1", "active": false}),
            json!(["ada"]),
        ] {
            assert!(
                !as_last_applied(&moved, Some(&owned(Some(&text))), &write_only),
                "{moved}"
            );
        }
        // Shown anyway, with the recorded value, or another.
        let shown = json!({"user_name": "ada", "etag": "1", "removal": "delete"});
        assert!(as_last_applied(
            &shown,
            Some(&owned(Some(&text))),
            &write_only
        ));
        let other = json!({"user_name": "ada", "etag": "1", "removal": "deactivate"});
        assert!(as_last_applied(
            &other,
            Some(&owned(Some(&text))),
            &write_only
        ));
    }

    #[test]
    fn write_only_fields_are_the_schemas_top_level_marks() {
        let schema = json!({"properties": {
            "password": {"type": "object", "writeOnly": true},
            "etag": {"type": "string", "readOnly": true},
            "name": {"type": "object", "properties": {"secret": {"writeOnly": true}}},
            "removal": {"enum": ["delete"], "writeOnly": false},
        }});
        assert_eq!(write_only_fields(&schema), ["password"]);
        assert!(write_only_fields(&json!(null)).is_empty());
    }
}
