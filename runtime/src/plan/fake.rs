//! An in-memory provider for the planner's tests: a small world of objects
//! by type and id, a rule for what `diff` answers (overridable per object),
//! a record of every call, and failures on command.
//!
//! The rule is the one real providers follow: an object that is absent is
//! created, one that left Git is deleted, one whose top-level fields differ
//! is updated — or replaced when a field of its type's `force_replace`
//! differs — and one that matches needs nothing. Summaries name the type,
//! the id and the fields, so that a test can tell which answer it got.
//!
//! References follow the contract's rule too: a desired spec's
//! [`REFERENCES`] field lists `type/id`s, and each must be an input with a
//! desired spec, one of the declared, or an object of the world; any other
//! is an error diagnostic on the change, at `references/N`.

use super::port::Provider;
use crate::host::{PluginError, SendGuard};
use crate::model::Address;
use cairn_contract::{
    Action, Change, Diagnostic, DiffInput, FieldChange, Hold, Observed, Outcome, ProviderInfo,
    ResourceType,
};
use cairn_contract::{Error as ProviderError, ErrorKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

/// The field of a spec that names other objects (`type/id`), which must
/// resolve.
pub(crate) const REFERENCES: &str = "references";

/// One call the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    /// `list`, with the ids asked for.
    List(Vec<String>),
    /// `diff`, with each input's `type/id`.
    Diff(Vec<String>),
    /// `apply`, with each change's `action type/id`.
    Apply(Vec<String>),
}

/// The in-memory provider.
pub(crate) struct FakeProvider {
    info: ProviderInfo,
    /// The objects that exist, by (type, id).
    world: Mutex<BTreeMap<(String, String), Value>>,
    /// Answers `diff` gives instead of the rule's, by (type, id).
    answers: Mutex<BTreeMap<(String, String), (Action, String)>>,
    /// Functions that fail from now on.
    failing: Mutex<HashSet<&'static str>>,
    calls: Mutex<Vec<Call>>,
    /// What the last `diff` was told the commit declares besides its
    /// inputs, as `type/id`.
    declared: Mutex<Vec<String>>,
    /// Objects bearing this instance's owner mark, which `list` vouches
    /// for, by (type, id).
    marked: Mutex<HashSet<(String, String)>>,
    /// Milliseconds after which `diff` asks to compare an object again,
    /// by (type, id).
    rechecks: Mutex<BTreeMap<(String, String), u64>>,
    /// What `diff` says an object holds, by (type, id).
    holds: Mutex<BTreeMap<(String, String), Vec<Hold>>>,
}

impl FakeProvider {
    /// A provider called `name` managing no types yet.
    pub(crate) fn new(name: &str) -> Self {
        Self {
            info: ProviderInfo {
                name: name.to_string(),
                version: "0.0.0".to_string(),
                description: "an in-memory world for tests".to_string(),
                resource_types: Vec::new(),
                config_schema: Value::Null,
            },
            world: Mutex::default(),
            answers: Mutex::default(),
            failing: Mutex::default(),
            calls: Mutex::default(),
            declared: Mutex::default(),
            marked: Mutex::default(),
            rechecks: Mutex::default(),
            holds: Mutex::default(),
        }
    }

    /// Manages objects of `type_name`; a change to one of `force_replace`
    /// replaces them, and `sensitive` fields hold secrets.
    pub(crate) fn with_type(
        mut self,
        type_name: &str,
        force_replace: &[&str],
        sensitive: &[&str],
    ) -> Self {
        let strings = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect();
        self.info.resource_types.push(ResourceType {
            name: type_name.to_string(),
            description: String::new(),
            schema: Value::Null,
            identity: vec!["id".to_string()],
            force_replace: strings(force_replace),
            sensitive: strings(sensitive),
        });
        self
    }

    /// Gives the resource type `type_name` (added before) its `schema`.
    pub(crate) fn with_schema(mut self, type_name: &str, schema: Value) -> Self {
        let resource_type = self
            .info
            .resource_types
            .iter_mut()
            .find(|t| t.name == type_name)
            .expect("a type added before");
        resource_type.schema = schema;
        self
    }

    /// Puts an object in the world (or changes it).
    pub(crate) fn put(&self, type_name: &str, id: &str, state: Value) {
        self.world
            .lock()
            .expect("world")
            .insert((type_name.to_string(), id.to_string()), state);
    }

    /// The object of `type_name` and `id`, if it exists.
    pub(crate) fn get(&self, type_name: &str, id: &str) -> Option<Value> {
        self.world
            .lock()
            .expect("world")
            .get(&(type_name.to_string(), id.to_string()))
            .cloned()
    }

    /// Marks an object as made by this instance: `list` vouches for it.
    pub(crate) fn mark(&self, type_name: &str, id: &str) {
        self.marked
            .lock()
            .expect("marked")
            .insert((type_name.to_string(), id.to_string()));
    }

    /// Makes `diff` say that one object holds `hold` (contract 0.3.0).
    pub(crate) fn hold(&self, type_name: &str, id: &str, hold: Hold) {
        self.holds
            .lock()
            .expect("holds")
            .entry((type_name.to_string(), id.to_string()))
            .or_default()
            .push(hold);
    }

    /// Makes `diff` ask to compare one object again after `seconds`.
    pub(crate) fn recheck(&self, type_name: &str, id: &str, seconds: u64) {
        self.rechecks
            .lock()
            .expect("rechecks")
            .insert((type_name.to_string(), id.to_string()), seconds * 1_000);
    }

    /// Makes `diff` answer `action` with `summary` for one object, whatever
    /// the rule says.
    pub(crate) fn answer(&self, type_name: &str, id: &str, action: Action, summary: &str) {
        self.answers.lock().expect("answers").insert(
            (type_name.to_string(), id.to_string()),
            (action, summary.to_string()),
        );
    }

    /// Makes every later call of `function` (`list`, `diff`, `apply`) fail
    /// as an unreachable server would.
    pub(crate) fn fail(&self, function: &'static str) {
        self.failing.lock().expect("failing").insert(function);
    }

    /// What the last `diff` was told the commit declares besides its
    /// inputs, as `type/id`, in the order given.
    pub(crate) fn last_declared(&self) -> Vec<String> {
        self.declared.lock().expect("declared").clone()
    }

    /// The calls received so far, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls").clone()
    }

    fn called(&self, function: &'static str, call: Call) -> Result<(), PluginError> {
        self.calls.lock().expect("calls").push(call);
        if self.failing.lock().expect("failing").contains(function) {
            return Err(PluginError::Provider {
                provider: self.info.name.clone(),
                function,
                error: ProviderError {
                    kind: ErrorKind::Unavailable,
                    message: "the server does not answer".to_string(),
                },
            });
        }
        Ok(())
    }

    /// What `diff` answers for one input; `known` holds every `type/id` a
    /// reference may name.
    fn change_for(&self, input: &DiffInput, known: &HashSet<String>) -> Change {
        let fields = field_changes(input.observed.as_ref(), input.desired.as_ref());
        let names = || {
            fields
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = format!("{} {}", input.type_name, input.id);
        let force_replace = self
            .info
            .resource_type(&input.type_name)
            .map_or(&[][..], |t| &t.force_replace[..]);
        let by_rule = match (&input.desired, &input.observed) {
            (None, None) => (Action::NoOp, format!("{what} is already gone")),
            (None, Some(_)) => (Action::Delete, format!("delete {what}")),
            (Some(_), None) => (Action::Create, format!("create {what}")),
            (Some(_), Some(_)) if fields.is_empty() => (Action::NoOp, format!("{what} matches")),
            (Some(_), Some(_)) if fields.iter().any(|f| force_replace.contains(&f.path)) => {
                (Action::Replace, format!("replace {what}: {}", names()))
            }
            (Some(_), Some(_)) => (Action::Update, format!("update {what}: {}", names())),
        };
        let key = (input.type_name.clone(), input.id.clone());
        let (action, summary) = self
            .answers
            .lock()
            .expect("answers")
            .get(&key)
            .cloned()
            .unwrap_or(by_rule);
        let references = input
            .desired
            .as_ref()
            .and_then(|spec| spec.get(REFERENCES))
            .and_then(Value::as_array);
        let diagnostics = references
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(index, target)| {
                let target = target.as_str().unwrap_or_default();
                (!known.contains(target)).then(|| {
                    Diagnostic::error(
                        format!("{REFERENCES}/{index}"),
                        format!("{target} is neither declared nor in the world"),
                    )
                })
            })
            .collect();
        Change {
            type_name: input.type_name.clone(),
            id: input.id.clone(),
            action,
            summary,
            fields,
            desired: input.desired.clone(),
            observed: input.observed.clone(),
            diagnostics,
            recheck_after_ms: self.rechecks.lock().expect("rechecks").get(&key).copied(),
            holds: self
                .holds
                .lock()
                .expect("holds")
                .get(&key)
                .cloned()
                .unwrap_or_default(),
            notice: None,
        }
    }
}

/// The top-level fields that differ between two states, in name order.
fn field_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let object = |value: Option<&Value>| match value {
        Some(Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let (before, after) = (object(before), object(after));
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| FieldChange {
            path: name.clone(),
            before: before.get(name).cloned(),
            after: after.get(name).cloned(),
            sensitive: false,
        })
        .collect()
}

impl Provider for FakeProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    async fn list(
        &self,
        type_names: Vec<String>,
        ids: Vec<String>,
    ) -> Result<Vec<Observed>, PluginError> {
        self.called("list", Call::List(ids.clone()))?;
        let world = self.world.lock().expect("world");
        let marked = self.marked.lock().expect("marked");
        Ok(world
            .iter()
            .filter(|((type_name, id), _)| type_names.contains(type_name) && ids.contains(id))
            .map(|(key, state)| Observed {
                type_name: key.0.clone(),
                id: key.1.clone(),
                state: state.clone(),
                vouched: marked.contains(key),
            })
            .collect())
    }

    async fn diff(
        &self,
        inputs: &[DiffInput],
        declared: &[&Address],
    ) -> Result<Vec<Change>, PluginError> {
        let asked = inputs
            .iter()
            .map(|i| format!("{}/{}", i.type_name, i.id))
            .collect();
        self.called("diff", Call::Diff(asked))?;
        let declared: Vec<String> = declared
            .iter()
            .map(|d| format!("{}/{}", d.type_name, d.id))
            .collect();
        *self.declared.lock().expect("declared") = declared.clone();
        let mut known: HashSet<String> = declared.into_iter().collect();
        known.extend(
            inputs
                .iter()
                .filter(|i| i.desired.is_some())
                .map(|i| format!("{}/{}", i.type_name, i.id)),
        );
        known.extend(
            self.world
                .lock()
                .expect("world")
                .keys()
                .map(|(type_name, id)| format!("{type_name}/{id}")),
        );
        Ok(inputs
            .iter()
            .map(|input| self.change_for(input, &known))
            .collect())
    }

    async fn apply(
        &self,
        changes: &[&Change],
        _guard: Option<Arc<dyn SendGuard>>,
    ) -> Result<Vec<Outcome>, PluginError> {
        let asked = changes
            .iter()
            .map(|c| format!("{} {}/{}", c.action.as_str(), c.type_name, c.id))
            .collect();
        self.called("apply", Call::Apply(asked))?;
        let mut world = self.world.lock().expect("world");
        Ok(changes
            .iter()
            .map(|change| {
                let key = (change.type_name.clone(), change.id.clone());
                match (change.action, &change.desired) {
                    (Action::NoOp, _) => Outcome::Applied(None),
                    (Action::Delete, _) => {
                        world.remove(&key);
                        Outcome::Applied(None)
                    }
                    (_, Some(desired)) => {
                        world.insert(key, desired.clone());
                        Outcome::Applied(Some(desired.clone()))
                    }
                    (_, None) => Outcome::Failed(ProviderError {
                        kind: ErrorKind::Invalid,
                        message: "a change that makes an object needs its desired state"
                            .to_string(),
                    }),
                }
            })
            .collect())
    }
}
