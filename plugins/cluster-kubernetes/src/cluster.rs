//! One cluster: planning and applying single objects by server-side
//! apply, shared by `object` and `manifests` resources.

use crate::api::{Api, Failure, one};
use crate::config::Config;
use crate::discovery::{Discovery, Kind};
use crate::live;
use crate::object::{self, ObjectRef};
use cairn_sdk::serde_json::Value;
use cairn_sdk::{Action, Error, ErrorKind, FieldChange, diff};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// From how many objects of one collection a call looks for does it list
/// the collection's metadata once instead of asking for each: a list is
/// one request (a page holds 500), so from three objects it saves
/// requests. 500 objects created into an empty API server asked for each
/// one twice (the plan's look and the apply's).
pub const LISTING_FROM: usize = 3;

/// Objects of one collection by name, in metadata only.
pub type Listing = HashMap<String, Value>;

/// How often a CRD's establishment (and its kinds' discovery) is checked
/// while waiting.
const ESTABLISH_POLL: Duration = Duration::from_millis(100);

/// One object to converge: what Git wants and what the cluster has.
#[derive(Debug, Clone)]
pub struct Item {
    /// Which object.
    pub reference: ObjectRef,
    /// The Cairn address of the resource declaring it.
    pub address: String,
    /// The canonical declared object; `None` to delete it.
    pub desired: Option<Value>,
    /// The live object in kept form; `None` when it does not exist (or,
    /// for a manifests set, is not known to be its own).
    pub live: Option<Value>,
    /// Whether an existing object without Cairn's marks may be taken over:
    /// true for an `object` resource, whose adoption the host decides
    /// (`adopt = true`); a manifests set never takes over what is not
    /// already its own.
    pub may_adopt: bool,
}

/// What planning one object found.
#[derive(Debug)]
pub struct ItemPlan {
    /// What happens to it.
    pub action: Action,
    /// The fields that change, paths inside the object.
    pub fields: Vec<FieldChange>,
    /// Something the operator should know (a conflict, a check that waits
    /// until apply).
    pub note: Option<String>,
}

/// One object's plan before its dry run.
enum Prepared {
    /// Planned without one: a delete, or a check that waits for apply.
    Planned(ItemPlan),
    /// To be dry-run: `body` at `path`, compared with `live`.
    DryRun {
        path: String,
        body: Value,
        live: Option<Value>,
    },
}

/// A cluster reached through its API server.
pub struct Cluster<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The API client.
    pub api: &'a Api,
    /// What the server serves.
    pub discovery: Discovery<'a>,
    /// Namespace → whether it exists, as found during this call.
    namespaces: RefCell<HashMap<String, bool>>,
    /// Object id → the address that wrote it during this call: two
    /// resources of one batch declaring the same object are caught without
    /// asking the server.
    written: RefCell<HashMap<String, String>>,
    /// Collection path → its objects' metadata, listed once during this
    /// call (`None`: too many pages to be worth it).
    listings: RefCell<HashMap<String, Option<Rc<Listing>>>>,
    /// (kind, namespace) → objects this call may look for there: the
    /// creates, whose object may have appeared since the plan.
    lookups: HashMap<(String, Option<String>), usize>,
}

impl<'a> Cluster<'a> {
    /// A cluster for `config` through `api`.
    pub fn new(config: &'a Config, api: &'a Api) -> Self {
        Self {
            config,
            api,
            discovery: Discovery::new(api),
            namespaces: RefCell::new(HashMap::new()),
            written: RefCell::new(HashMap::new()),
            listings: RefCell::new(HashMap::new()),
            lookups: HashMap::new(),
        }
    }

    /// The same, told which objects it will converge, so that it lists a
    /// collection once where it would look for many of its objects.
    pub fn for_items<'i>(
        config: &'a Config,
        api: &'a Api,
        items: impl IntoIterator<Item = &'i Item>,
    ) -> Self {
        let mut cluster = Self::new(config, api);
        for item in items {
            if item.desired.is_some() && item.live.is_none() {
                let key = (
                    item.reference.kind.clone(),
                    item.reference.namespace.clone(),
                );
                *cluster.lookups.entry(key).or_default() += 1;
            }
        }
        cluster
    }

    /// The metadata of `collection`'s objects by name, listed once per
    /// call, when `wanted` of them are to be looked for (at least
    /// [`LISTING_FROM`]) and the list takes no more pages than that.
    pub fn listing(&self, collection: &str, wanted: usize) -> Result<Option<Rc<Listing>>, Error> {
        if wanted < LISTING_FROM {
            return Ok(None);
        }
        if let Some(listed) = self.listings.borrow().get(collection) {
            return Ok(listed.clone());
        }
        one(self.list_collections(&[(collection, wanted)]))
    }

    /// Lists side by side the collections of `wanted` — `(collection,
    /// objects to look for there)` — that [`Cluster::listing`] would list
    /// one after the other. A list that fails is not kept: `listing` asks
    /// again and reports its error where the object is looked for.
    pub fn list_ahead(&self, wanted: &[(String, usize)]) {
        let mut to_list: Vec<(&str, usize)> = wanted
            .iter()
            .filter(|(collection, count)| {
                *count >= LISTING_FROM && !self.listings.borrow().contains_key(collection)
            })
            .map(|(collection, count)| (collection.as_str(), *count))
            .collect();
        to_list.sort_unstable();
        to_list.dedup_by_key(|(collection, _)| *collection);
        self.list_collections(&to_list);
    }

    /// Lists the metadata of each `(collection, most pages)` side by side
    /// and keeps each list that succeeds for the rest of the call.
    fn list_collections(
        &self,
        wanted: &[(&str, usize)],
    ) -> Vec<Result<Option<Rc<Listing>>, Error>> {
        wanted
            .iter()
            .zip(self.api.list_metadata_all(wanted))
            .map(|((collection, _), listed)| {
                let listed = listed?
                    .map(|items| {
                        items
                            .into_iter()
                            .filter_map(|item| {
                                let name = item.pointer("/metadata/name")?.as_str()?.to_string();
                                Some((name, item))
                            })
                            .collect::<Listing>()
                    })
                    .map(Rc::new);
                self.listings
                    .borrow_mut()
                    .insert(collection.to_string(), listed.clone());
                Ok(listed)
            })
            .collect()
    }

    /// Looks ahead, side by side, for what planning (`planning`) or
    /// applying `items` would ask one object at a time: whether their
    /// namespaces exist (a plan's question), and the listings of the
    /// collections their creates are looked for in (by [`Cluster::claim`]:
    /// in a plan only for what may not adopt).
    fn look_ahead(&self, items: &[&Item], planning: bool) {
        if planning {
            let mut unknown: Vec<&String> = items
                .iter()
                .filter(|item| item.desired.is_some())
                .filter_map(|item| item.reference.namespace.as_ref())
                .filter(|namespace| !self.namespaces.borrow().contains_key(*namespace))
                .collect();
            unknown.sort_unstable();
            unknown.dedup();
            // A GET that fails is not kept: `namespace_exists` asks again
            // and reports its error where the object needs the answer.
            self.learn_namespaces(&unknown);
        }
        let mut seen = HashSet::new();
        let mut collections = Vec::new();
        for item in items {
            let Some(desired) = &item.desired else {
                continue;
            };
            let looked_up = item.live.is_none() && (!planning || !item.may_adopt);
            let namespace = item.reference.namespace.as_deref();
            let namespace_missing = planning
                && namespace.is_some_and(|name| self.namespaces.borrow().get(name) == Some(&false));
            let key = (item.reference.kind.clone(), namespace.map(str::to_string));
            let wanted = self.lookups.get(&key).copied().unwrap_or(0);
            if !looked_up || namespace_missing || wanted < LISTING_FROM || !seen.insert(key) {
                continue;
            }
            if let Ok(Some(kind)) = self.kind_of(desired, &item.reference) {
                collections.push((kind.collection(namespace), wanted));
            }
        }
        self.list_ahead(&collections);
    }

    /// The object at `path` as far as claiming it goes (its labels and
    /// annotations), `None` when it does not exist: from the listing of
    /// its collection where the call looks for many there, else a GET.
    fn look_up(&self, item: &Item, path: &str) -> Result<Option<Value>, Error> {
        let key = (
            item.reference.kind.clone(),
            item.reference.namespace.clone(),
        );
        let wanted = self.lookups.get(&key).copied().unwrap_or(0);
        if let Some((collection, name)) = path.rsplit_once('/')
            && let Some(listing) = self.listing(collection, wanted)?
        {
            return Ok(listing.get(name).cloned());
        }
        self.api.get(path)
    }

    /// Whether `namespace` exists (and is not being deleted). Asked once
    /// per call: a dry run into a missing namespace costs the API server
    /// its admission wait (about 50 ms) before the 404.
    pub fn namespace_exists(&self, namespace: &str) -> Result<bool, Error> {
        if let Some(&known) = self.namespaces.borrow().get(namespace) {
            return Ok(known);
        }
        one(self.learn_namespaces(&[namespace]))
    }

    /// Whether each of `namespaces` exists (and is not being deleted),
    /// asked side by side; each answer is kept for the rest of the call.
    fn learn_namespaces(&self, namespaces: &[impl AsRef<str>]) -> Vec<Result<bool, Error>> {
        let paths: Vec<String> = namespaces
            .iter()
            .map(|name| format!("/api/v1/namespaces/{}", name.as_ref()))
            .collect();
        namespaces
            .iter()
            .zip(self.api.get_all(&paths))
            .map(|(namespace, found)| {
                let exists = found?.is_some_and(|live| !live::is_terminating(&live));
                self.namespaces
                    .borrow_mut()
                    .insert(namespace.as_ref().to_string(), exists);
                Ok(exists)
            })
            .collect()
    }

    /// A live object in kept form.
    pub fn keep(&self, live: Value) -> Value {
        live::canonical(live, self.config.token.as_bytes())
    }

    /// The kind of a declared object, `None` when the server does not
    /// serve it (yet).
    fn kind_of(&self, desired: &Value, reference: &ObjectRef) -> Result<Option<Kind>, Error> {
        let kind = self
            .discovery
            .resolve(object::api_version(desired), &reference.kind)?;
        if let Some(kind) = &kind {
            kind.check_scope(reference)?;
        }
        Ok(kind)
    }

    /// Plans `items`: for each, a server-side dry-run apply compared with
    /// the live object, both without what the server owns, so defaulted
    /// fields are equal on both sides and only what applying changes
    /// shows. The dry runs go out side by side
    /// ([`cairn_sdk::http::REQUESTS_AT_ONCE`] at a time): one after the
    /// other, a plan of many objects waits for each in turn.
    pub fn plan_all(&self, items: &[&Item]) -> Vec<ItemPlan> {
        self.look_ahead(items, true);
        let prepared: Vec<Prepared> = items.iter().map(|item| self.prepare_plan(item)).collect();
        let dry_runs: Vec<(&str, &Value)> = prepared
            .iter()
            .filter_map(|prepared| match prepared {
                Prepared::DryRun { path, body, .. } => Some((path.as_str(), body)),
                Prepared::Planned(_) => None,
            })
            .collect();
        let mut results = self.api.apply_all(&dry_runs, true).into_iter();
        items
            .iter()
            .zip(prepared)
            .map(|(item, prepared)| match prepared {
                Prepared::Planned(plan) => plan,
                Prepared::DryRun { path, body, live } => {
                    let result = results.next().expect("one answer per dry run");
                    self.conclude_plan(item, &path, &body, live, result)
                }
            })
            .collect()
    }

    /// A plan not checked by the server (yet), with `note` saying why: the
    /// declared object compared with the live one.
    fn unchecked(&self, item: &Item, desired: &Value, note: String) -> ItemPlan {
        let body = object::to_apply(desired, self.config, &item.address)
            .map(|body| self.keep(body))
            .unwrap_or_else(|_| desired.clone());
        let mut fields = diff::field_changes(item.live.as_ref(), Some(&body));
        mark_sensitive(&body, &mut fields);
        ItemPlan {
            action: diff::action(true, item.live.is_some(), &fields),
            fields,
            note: Some(note),
        }
    }

    /// Everything planning one object does before its dry run: the plan
    /// itself when the object cannot be (or need not be) dry-run.
    fn prepare_plan(&self, item: &Item) -> Prepared {
        let Some(desired) = &item.desired else {
            return Prepared::Planned(ItemPlan {
                action: if item.live.is_some() {
                    Action::Delete
                } else {
                    Action::NoOp
                },
                fields: Vec::new(),
                note: None,
            });
        };
        let unchecked = |note: String| Prepared::Planned(self.unchecked(item, desired, note));
        let body = match object::to_apply(desired, self.config, &item.address) {
            Ok(body) => body,
            Err(error) => return unchecked(format!("cannot be applied: {}", error.message)),
        };
        let kind = match self.kind_of(desired, &item.reference) {
            Ok(Some(kind)) => kind,
            Ok(None) => {
                return unchecked(format!(
                    "{} {} is not served yet; checked when applied, after its CustomResourceDefinition",
                    object::api_version(desired),
                    item.reference.kind
                ));
            }
            Err(error) => return unchecked(error.message),
        };
        if let Some(namespace) = item.reference.namespace.as_deref() {
            match self.namespace_exists(namespace) {
                Ok(true) => {}
                Ok(false) => {
                    return unchecked(format!(
                        "checked when applied, once namespace {namespace} exists"
                    ));
                }
                Err(error) => return unchecked(error.message),
            }
        }
        let path = kind.object_path(&item.reference);
        if let Err(reason) = self.claim(item, &path, !item.may_adopt) {
            return unchecked(format!("conflict: {reason}"));
        }
        let mut live = item.live.clone();
        if let Some(found) = &live
            && object::api_version(found) != object::api_version(desired)
        {
            // Listed through another group version: compare like with like.
            live = match self.api.get(&path) {
                Ok(found) => found.map(|found| self.keep(found)),
                Err(error) => return unchecked(error.message),
            };
        }
        Prepared::DryRun { path, body, live }
    }

    /// The plan of one object from its dry run's answer (`result`), the
    /// dry run of `body` at `path` made again with `force` when it meets a
    /// conflict.
    fn conclude_plan(
        &self,
        item: &Item,
        path: &str,
        body: &Value,
        live: Option<Value>,
        result: Result<Value, Failure>,
    ) -> ItemPlan {
        let desired = item
            .desired
            .as_ref()
            .expect("only a declared object is dry-run");
        let unchecked = |note: String| self.unchecked(item, desired, note);
        let mut note = None;
        let result = match result {
            Ok(result) => result,
            Err(failure) if failure.status == 409 => {
                note = Some(match self.conflict_kind(path, &failure) {
                    Ok(ConflictKind::Drift(managers)) => format!(
                        "fields changed by hand ({}) are taken back",
                        managers.join(", ")
                    ),
                    Ok(ConflictKind::Applier(managers)) if self.config.force_conflicts => {
                        format!(
                            "takes fields from {} (force_conflicts)",
                            managers.join(", ")
                        )
                    }
                    Ok(ConflictKind::Applier(managers)) => format!(
                        "conflict: {} own fields Cairn sets; applying fails unless force_conflicts = true",
                        managers.join(", ")
                    ),
                    Err(error) => error.message,
                });
                match self.api.apply(path, body, true, true) {
                    Ok(result) => result,
                    Err(failure) => return unchecked(failure.error.message),
                }
            }
            Err(failure) if failure.status == 404 && live.is_none() => {
                return unchecked(match &item.reference.namespace {
                    Some(namespace) => {
                        format!("checked when applied, once namespace {namespace} exists")
                    }
                    None => format!("checked when applied ({})", failure.error.message),
                });
            }
            Err(failure) => {
                return unchecked(format!("the server refuses it: {}", failure.error.message));
            }
        };
        let after = self.keep(result);
        let mut fields = diff::field_changes(live.as_ref(), Some(&after));
        mark_sensitive(&after, &mut fields);
        ItemPlan {
            action: diff::action(true, live.is_some(), &fields),
            fields,
            note,
        }
    }

    /// Whether `item` may write the object at `path`: one that carries
    /// Cairn's label must carry this tenant and this resource's address;
    /// one without it may be taken over only by an `object` resource the
    /// host saw it for (and let adopt). With `look_up`, an object the host
    /// did not see is looked for: a manifests set observes only its own.
    fn claim(&self, item: &Item, path: &str, look_up: bool) -> Result<(), String> {
        let looked_up;
        let (live, seen_by_host) = match &item.live {
            Some(live) => (live, true),
            None if !look_up => return Ok(()),
            None => match self.look_up(item, path) {
                Ok(Some(found)) => {
                    looked_up = found;
                    (&looked_up, false)
                }
                Ok(None) => return Ok(()),
                Err(error) => return Err(error.message),
            },
        };
        let label = |key: &str| {
            live.pointer("/metadata/labels")
                .and_then(|labels| labels.get(key))
                .and_then(Value::as_str)
        };
        let annotation = |key: &str| {
            live.pointer("/metadata/annotations")
                .and_then(|annotations| annotations.get(key))
                .and_then(Value::as_str)
        };
        if label(object::MANAGED_BY_LABEL) != Some(object::MANAGED_BY) {
            return if item.may_adopt && seen_by_host {
                Ok(())
            } else {
                Err(
                    "exists and is not Cairn's (made by hand or by another tool): delete it, or declare it as an `object` resource with `adopt = true`"
                        .to_string(),
                )
            };
        }
        match (
            annotation(object::TENANT_ANNOTATION),
            annotation(object::ADDRESS_ANNOTATION),
        ) {
            (Some(tenant), _) if tenant != self.config.tenant => {
                Err(format!("belongs to tenant `{tenant}`"))
            }
            (_, Some(address)) if address != item.address => Err(format!(
                "is declared by {address}; an object belongs to one resource: remove the other declaration first"
            )),
            _ => Ok(()),
        }
    }

    /// Whether a conflict is with hand edits (field managers that updated
    /// rather than applied: drift) or with another applier.
    fn conflict_kind(&self, path: &str, failure: &Failure) -> Result<ConflictKind, Error> {
        let live = self.api.get(path)?.unwrap_or(Value::Null);
        let appliers: Vec<String> = failure
            .conflicting_managers
            .iter()
            .filter(|manager| {
                live.pointer("/metadata/managedFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|entry| {
                        entry.get("manager").and_then(Value::as_str) == Some(manager.as_str())
                            && entry.get("operation").and_then(Value::as_str) == Some("Apply")
                    })
            })
            .cloned()
            .collect();
        Ok(if appliers.is_empty() {
            ConflictKind::Drift(failure.conflicting_managers.clone())
        } else {
            ConflictKind::Applier(appliers)
        })
    }

    /// Applies `items` (none of them a delete) and returns each one's new
    /// kept state: checked and claimed one after the other, in order, then
    /// sent side by side ([`cairn_sdk::http::REQUESTS_AT_ONCE`] at a
    /// time). For objects of one rank, which do not wait for each other.
    pub fn apply_all(&self, items: &[&Item]) -> Vec<Result<Value, Error>> {
        self.look_ahead(items, false);
        let prepared: Vec<Result<(String, Value), Error>> = items
            .iter()
            .map(|item| {
                let desired = item.desired.as_ref().expect("applies only");
                self.prepare_apply(item, desired)
            })
            .collect();
        let applies: Vec<(&str, &Value)> = prepared
            .iter()
            .filter_map(|prepared| prepared.as_ref().ok())
            .map(|(path, body)| (path.as_str(), body))
            .collect();
        let mut results = self.api.apply_all(&applies, false).into_iter();
        items
            .iter()
            .zip(prepared)
            .map(|(item, prepared)| {
                let (path, body) = prepared?;
                let result = results.next().expect("one answer per apply");
                let desired = item.desired.as_ref().expect("applies only");
                self.conclude_apply(item, desired, &path, &body, result)
            })
            .collect()
    }

    /// Everything applying one object does before it is sent: its body,
    /// its kind served, its claim; returns its path and body.
    fn prepare_apply(&self, item: &Item, desired: &Value) -> Result<(String, Value), Error> {
        let body = object::to_apply(desired, self.config, &item.address)?;
        let kind = self.wait_served(desired, &item.reference)?;
        let path = kind.object_path(&item.reference);
        let id = item.reference.id();
        let earlier = self.written.borrow().get(&id).cloned();
        let claimed = match earlier {
            Some(address) if address != item.address => Err(format!(
                "is declared by {address}; an object belongs to one resource: remove the other declaration first"
            )),
            // Seen by the host (an `object`), or looked for: a manifest's
            // object, and an object the host did not see (a create), which
            // may have appeared since the plan and be someone else's.
            _ => self.claim(item, &path, !item.may_adopt || item.live.is_none()),
        };
        claimed.map_err(|reason| {
            Error::new(
                ErrorKind::Conflict,
                format!("{id} {reason}; it was left alone"),
            )
        })?;
        self.written.borrow_mut().insert(id, item.address.clone());
        Ok((path, body))
    }

    /// The new kept state of one object from its apply's answer
    /// (`result`), the apply of `body` at `path` made again with `force`
    /// when it meets hand edits (or, with `force_conflicts`, another
    /// applier); a CRD is waited for until established.
    fn conclude_apply(
        &self,
        item: &Item,
        desired: &Value,
        path: &str,
        body: &Value,
        result: Result<Value, Failure>,
    ) -> Result<Value, Error> {
        let result = match result {
            Ok(result) => result,
            Err(failure) if failure.status == 409 => match self.conflict_kind(path, &failure)? {
                ConflictKind::Applier(managers) if !self.config.force_conflicts => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "{} conflicts with field manager {}: {} (set force_conflicts = true in this provider's config to take the fields)",
                            item.reference.id(),
                            managers.join(", "),
                            failure.error.message
                        ),
                    ));
                }
                _ => self
                    .api
                    .apply(path, body, true, false)
                    .map_err(|failure| failure.error)?,
            },
            Err(failure) => return Err(failure.error),
        };
        if is_crd(desired) {
            self.wait_established(&item.reference.name, desired)?;
        }
        Ok(self.keep(result))
    }

    /// Deletes an object if it is still Cairn's.
    pub fn delete(&self, item: &Item) -> Result<(), Error> {
        let Some(expected) = &item.live else {
            return Ok(());
        };
        let Some(kind) = self
            .discovery
            .resolve(object::api_version(expected), &item.reference.kind)?
        else {
            return Ok(());
        };
        let path = kind.object_path(&item.reference);
        let Some(live) = self.api.get(&path)? else {
            return Ok(());
        };
        if !object::is_owned(&live, self.config, &item.address) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{} no longer carries Cairn's label and annotations for {}; it is left alone",
                    item.reference.id(),
                    item.address
                ),
            ));
        }
        self.api.delete(&path)
    }

    /// The kind of a declared object, waiting (up to the establish
    /// timeout) for a custom kind whose CRD was just applied to be served.
    fn wait_served(&self, desired: &Value, reference: &ObjectRef) -> Result<Kind, Error> {
        let deadline = Instant::now() + self.config.establish_timeout;
        loop {
            if let Some(kind) = self.kind_of(desired, reference)? {
                return Ok(kind);
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "the cluster does not serve {} {} (is its CustomResourceDefinition applied?)",
                        object::api_version(desired),
                        reference.kind
                    ),
                ));
            }
            std::thread::sleep(ESTABLISH_POLL);
            self.discovery.forget(object::api_version(desired));
        }
    }

    /// Waits until the CRD `name` is established, then forgets what
    /// discovery knew of its group versions.
    fn wait_established(&self, name: &str, crd: &Value) -> Result<(), Error> {
        let path = format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}");
        let deadline = Instant::now() + self.config.establish_timeout;
        loop {
            let established = self
                .api
                .get(&path)?
                .and_then(|live| live.pointer("/status/conditions").cloned())
                .and_then(|conditions| conditions.as_array().cloned())
                .into_iter()
                .flatten()
                .any(|condition| {
                    condition["type"] == "Established" && condition["status"] == "True"
                });
            if established {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the CustomResourceDefinition {name} was not established within {} s",
                        self.config.establish_timeout.as_secs()
                    ),
                ));
            }
            std::thread::sleep(ESTABLISH_POLL);
        }
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for version in crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|version| version.get("name").and_then(Value::as_str))
        {
            self.discovery.forget(&format!("{group}/{version}"));
        }
        Ok(())
    }
}

/// Marks a Secret's values (and the whole Secret, when it is created or
/// deleted whole) as sensitive, so their digests are not shown either.
fn mark_sensitive(object: &Value, fields: &mut [FieldChange]) {
    if object::is_secret(object) {
        for field in fields {
            if field.path.is_empty() || field.path == "data" || field.path.starts_with("data/") {
                field.sensitive = true;
            }
        }
    }
}

/// Who owns fields a server-side apply conflicts on.
enum ConflictKind {
    /// Only managers that updated (hand edits): drift, taken back.
    Drift(Vec<String>),
    /// Other appliers, named.
    Applier(Vec<String>),
}

/// Whether an object is a CustomResourceDefinition.
pub fn is_crd(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
        && object::api_version(object).starts_with("apiextensions.k8s.io/")
}

/// The order objects are applied in: namespaces, then CRDs, then what
/// others refer to (accounts, roles, configuration), then the rest, then
/// custom objects (kinds no built-in group serves). Deletes go in reverse.
pub fn rank(object: &Value) -> u8 {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let api_version = object::api_version(object);
    match kind {
        "Namespace" => 0,
        _ if is_crd(object) => 1,
        "ServiceAccount"
        | "ClusterRole"
        | "Role"
        | "ClusterRoleBinding"
        | "RoleBinding"
        | "ConfigMap"
        | "Secret"
        | "PriorityClass"
        | "StorageClass"
        | "PersistentVolume"
        | "PersistentVolumeClaim"
        | "LimitRange"
        | "ResourceQuota" => 2,
        _ if is_builtin_group(api_version) => 3,
        _ => 4,
    }
}

/// Whether an apiVersion belongs to Kubernetes itself (core or a
/// `*.k8s.io` group or one of the historic unqualified groups).
fn is_builtin_group(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => {
            group.ends_with(".k8s.io")
                || matches!(
                    group,
                    "apps" | "batch" | "autoscaling" | "policy" | "extensions"
                )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::serde_json::json;

    #[test]
    fn namespaces_and_crds_come_first_and_custom_objects_last() {
        let of =
            |api_version: &str, kind: &str| rank(&json!({"apiVersion": api_version, "kind": kind}));
        assert!(of("v1", "Namespace") < of("apiextensions.k8s.io/v1", "CustomResourceDefinition"));
        assert!(
            of("apiextensions.k8s.io/v1", "CustomResourceDefinition") < of("v1", "ServiceAccount")
        );
        assert!(of("rbac.authorization.k8s.io/v1", "Role") < of("apps/v1", "Deployment"));
        assert!(of("apps/v1", "Deployment") < of("example.org/v1", "Widget"));
    }
}
