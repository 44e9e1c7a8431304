//! Runs the rules against a plugin and the server its conformance file
//! names: each call goes through the real sandbox, as in a plan and an
//! apply, and every answer is kept for the hygiene rule.

use super::file::{ConformanceFile, Request, parse_resources};
use super::rules::Rule;
use crate::config::RawGrant;
use crate::plan::makes_a_difference;
use cairn::contract::{Action, Change, DiffInput, ErrorKind, Observed, Outcome};
use cairn::host::grants::Grant;
use cairn::host::{Plugin, PluginError, PluginHost, ProviderInstance, ProviderSettings};
use cairn::secrets::SecretRef;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;

mod refusals;

/// The tenant a tested plugin runs for.
const TESTER: &str = "plugin-test";

/// The value given for every secret by [`Rule::WrongCredential`].
const WRONG_CREDENTIAL: &str = "cairn-test-wrong-credential";

/// The longest an out-of-band request or command may take.
const OUT_OF_BAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Secrets shorter than this are not looked for by
/// [`Rule::SecretsHidden`]: they would be found in ordinary words.
const SHORTEST_SECRET_SOUGHT: usize = 6;

/// How a rule came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not: the hint says what to do.
    Fail,
    /// It was not checked, and the detail says why.
    Skip,
}

/// One rule's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The rule.
    pub rule: Rule,
    /// How it came out.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
}

/// A resource of a step as the provider canonicalized it.
#[derive(Debug, Clone)]
struct Desired {
    type_name: String,
    id: String,
    spec: Value,
}

type Key = (String, String);

/// The runner's state.
pub struct Runner<'a> {
    host: &'a PluginHost,
    plugin: Arc<Plugin>,
    file: &'a ConformanceFile,
    settings: ProviderSettings,
    instance: ProviderInstance,
    checks: Vec<Check>,
    /// Every answer and error the plugin gave, as text.
    transcript: String,
    /// The first step's resources, which the error rules list.
    probe: Vec<Desired>,
}

impl<'a> Runner<'a> {
    /// A runner of `plugin`, configured as `file` says.
    pub fn new(
        host: &'a PluginHost,
        plugin: Arc<Plugin>,
        file: &'a ConformanceFile,
    ) -> anyhow::Result<Self> {
        let table = &file.provider;
        let settings = ProviderSettings {
            tenant: TESTER.into(),
            name: plugin.info().name.clone(),
            config: table.config.clone(),
            secrets: table.secrets.clone(),
            grants: grants(&table.allow, &file.folder)?,
            memory_bytes: cairn::config::parse_size(&table.memory)
                .map_err(|error| anyhow::anyhow!("provider.memory: {error}"))?,
            timeout: humantime::parse_duration(&table.timeout)
                .map_err(|error| anyhow::anyhow!("provider.timeout: {error}"))?,

            concurrency: Default::default(),
        };
        let instance = ProviderInstance::new(host, plugin.clone(), settings.clone());
        Ok(Self {
            host,
            plugin,
            file,
            settings,
            instance,
            checks: Vec::new(),
            transcript: String::new(),
            probe: Vec::new(),
        })
    }

    /// Runs every rule; returns one check per rule, in the rules' order.
    pub async fn run(mut self, captured_log: impl Fn() -> String) -> anyhow::Result<Vec<Check>> {
        let mut steps = Vec::with_capacity(self.file.steps.len());
        for (index, step) in self.file.steps.iter().enumerate() {
            let what = format!("step {}", index + 1);
            let resources = parse_resources(&step.resources, &what)?;
            steps.push(self.canonical(&resources, &what).await?);
        }
        self.static_rules(&steps).await?;
        self.lifecycle(&steps).await?;
        self.unknown_type().await;
        self.errors().await?;
        self.hygiene(&captured_log());
        Ok(self.in_order())
    }

    fn record(&mut self, rule: Rule, verdict: Verdict, detail: impl Into<String>) {
        record(
            &mut self.checks,
            &self.file.skip,
            rule,
            verdict,
            detail.into(),
        );
    }

    fn pass(&mut self, rule: Rule, detail: impl Into<String>) {
        self.record(rule, Verdict::Pass, detail);
    }

    fn fail(&mut self, rule: Rule, detail: impl Into<String>) {
        self.record(rule, Verdict::Fail, detail);
    }

    fn skip(&mut self, rule: Rule, detail: impl Into<String>) {
        self.record(rule, Verdict::Skip, detail);
    }

    /// The checks in the rules' order; a rule never reached is skipped.
    fn in_order(mut self) -> Vec<Check> {
        for rule in ALL_RULES {
            self.skip(*rule, "not reached: a rule it builds on failed first");
        }
        let position = |rule: Rule| ALL_RULES.iter().position(|r| *r == rule);
        self.checks.sort_by_key(|check| position(check.rule));
        self.checks
    }

    /// Notes an answer for the hygiene rule.
    fn keep(&mut self, answer: &impl Serialize) {
        let _ = writeln!(
            self.transcript,
            "{}",
            serde_json::to_string(answer).unwrap_or_default()
        );
    }

    fn keep_error(&mut self, error: &PluginError) {
        let _ = writeln!(self.transcript, "{error}");
    }

    async fn static_rules(&mut self, steps: &[Vec<Desired>]) -> anyhow::Result<()> {
        let contract = self.plugin.contract_version().to_string();
        let supported = cairn::host::ContractVersion::supported();
        // The load refused a plugin that breaks any of these: reaching
        // here, they hold, and the load's findings say how.
        for finding in
            super::super::inspect_check::findings(self.plugin.info(), &contract, &supported)
        {
            let rule = match finding.check {
                "contract" => Rule::ContractVersion,
                "schemas" => Rule::SchemasValid,
                "fields" => Rule::FieldsInSchema,
                _ => continue,
            };
            self.pass(rule, finding.message);
        }
        let mut changed = Vec::new();
        for desired in steps {
            let again: Vec<(String, Value)> = desired
                .iter()
                .map(|d| (d.type_name.clone(), d.spec.clone()))
                .collect();
            let validations = self.instance.validate(&again).await?;
            self.keep(&validations);
            for (first, second) in desired.iter().zip(&validations) {
                if second.canonical.as_ref() != Some(&first.spec) {
                    changed.push(format!(
                        "{}/{}: {} became {}",
                        first.type_name,
                        first.id,
                        first.spec,
                        second
                            .canonical
                            .as_ref()
                            .map_or("an error".to_string(), Value::to_string)
                    ));
                }
            }
        }
        if changed.is_empty() {
            self.pass(
                Rule::ValidateIdempotent,
                "every step's canonical specs validate to themselves",
            );
        } else {
            self.fail(Rule::ValidateIdempotent, changed.join("; "));
        }

        if self.file.invalid.is_empty() {
            self.skip(
                Rule::InvalidRefused,
                "the conformance file gives no `[[invalid]]` resources",
            );
            return Ok(());
        }
        let mut accepted = Vec::new();
        let mut refused = 0;
        for (index, invalid) in self.file.invalid.iter().enumerate() {
            let resources = parse_resources(&invalid.resources, &format!("invalid {}", index + 1))?;
            let validations = self.instance.validate(&resources).await?;
            self.keep(&validations);
            for ((type_name, spec), validation) in resources.iter().zip(&validations) {
                if validation
                    .diagnostics
                    .iter()
                    .any(|d| d.severity == cairn::contract::Severity::Error)
                {
                    refused += 1;
                } else {
                    accepted.push(format!("{type_name} {spec}"));
                }
            }
        }
        if accepted.is_empty() {
            self.pass(
                Rule::InvalidRefused,
                format!("validate refused all {refused} invalid resource(s)"),
            );
        } else {
            self.fail(
                Rule::InvalidRefused,
                format!("validate accepted {}", accepted.join("; ")),
            );
        }
        Ok(())
    }

    /// The canonical form of a step's resources; a refused one is the
    /// conformance file's mistake, not a rule's failure.
    async fn canonical(
        &mut self,
        resources: &[(String, Value)],
        what: &str,
    ) -> anyhow::Result<Vec<Desired>> {
        let validations = self.instance.validate(resources).await?;
        self.keep(&validations);
        let mut desired = Vec::new();
        for ((type_name, spec), validation) in resources.iter().zip(validations) {
            let Some(canonical) = validation.canonical else {
                let problems: Vec<String> = validation
                    .diagnostics
                    .iter()
                    .map(|d| format!("{}: {}", d.path, d.message))
                    .collect();
                anyhow::bail!(
                    "{what}: the plugin refuses the {type_name} {spec}: {}; correct the conformance file",
                    problems.join("; ")
                );
            };
            let Some(resource_type) = self.plugin.info().resource_type(type_name) else {
                anyhow::bail!(
                    "{what}: the plugin has no resource type `{type_name}`; correct the conformance file"
                );
            };
            let id = resource_type.id_of(&canonical).map_err(|missing| {
                anyhow::anyhow!(
                    "{what}: the {type_name} {spec} has no `{}`, which identifies it",
                    missing.field
                )
            })?;
            desired.push(Desired {
                type_name: type_name.clone(),
                id,
                spec: canonical,
            });
        }
        Ok(desired)
    }

    /// What `list` shows of `desired`, by type and id.
    async fn observe(
        &mut self,
        desired: &[Desired],
    ) -> Result<HashMap<Key, Observed>, PluginError> {
        let mut types: Vec<String> = desired.iter().map(|d| d.type_name.clone()).collect();
        types.sort();
        types.dedup();
        let ids = desired.iter().map(|d| d.id.clone()).collect();
        let observed = self.instance.list(types, ids).await?;
        self.keep(&observed);
        Ok(observed
            .into_iter()
            .map(|o| ((o.type_name.clone(), o.id.clone()), o))
            .collect())
    }

    /// What `diff` answers for `desired` (or their deletion, when
    /// `delete`, in reverse order: what a step declares after another may
    /// depend on it, and goes first), against `observed` and the states
    /// last applied.
    async fn plan(
        &mut self,
        desired: &[Desired],
        observed: &HashMap<Key, Observed>,
        prior: &HashMap<Key, Value>,
        delete: bool,
    ) -> Result<Vec<Change>, PluginError> {
        let ordered: Vec<&Desired> = if delete {
            desired.iter().rev().collect()
        } else {
            desired.iter().collect()
        };
        let inputs: Vec<DiffInput> = ordered
            .into_iter()
            .map(|d| {
                let key = (d.type_name.clone(), d.id.clone());
                DiffInput {
                    type_name: d.type_name.clone(),
                    id: d.id.clone(),
                    desired: (!delete).then(|| d.spec.clone()),
                    observed: observed.get(&key).map(|o| o.state.clone()),
                    prior: prior.get(&key).cloned(),
                    halt: false,
                }
            })
            .collect();
        let changes = self.instance.diff(&inputs, &[]).await?;
        self.keep(&changes);
        Ok(changes)
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<Vec<Outcome>, PluginError> {
        let outcomes = self.instance.apply(changes).await?;
        self.keep(&outcomes);
        Ok(outcomes)
    }

    /// Plans and applies `desired`; returns the states applied, or what
    /// went wrong.
    async fn converge(
        &mut self,
        desired: &[Desired],
        prior: &HashMap<Key, Value>,
        expected: &[Action],
        rule: Rule,
    ) -> anyhow::Result<Option<HashMap<Key, Value>>> {
        let observed = match self.observe(desired).await {
            Ok(observed) => observed,
            Err(error) => return Ok(self.failed_call(rule, "list", &error)),
        };
        let changes = match self.plan(desired, &observed, prior, false).await {
            Ok(changes) => changes,
            Err(error) => return Ok(self.failed_call(rule, "diff", &error)),
        };
        let unexpected: Vec<String> = changes
            .iter()
            .filter(|c| !expected.contains(&c.action))
            .map(|c| {
                format!(
                    "{}/{} planned as {:?} ({})",
                    c.type_name, c.id, c.action, c.summary
                )
            })
            .collect();
        if !unexpected.is_empty() {
            self.fail(rule, unexpected.join("; "));
            return Ok(None);
        }
        let changes: Vec<Change> = changes.into_iter().filter(makes_a_difference).collect();
        let outcomes = match self.apply(&changes).await {
            Ok(outcomes) => outcomes,
            Err(error) => return Ok(self.failed_call(rule, "apply", &error)),
        };
        let mut applied = prior.clone();
        let mut failures = Vec::new();
        for (change, outcome) in changes.iter().zip(outcomes) {
            let key = (change.type_name.clone(), change.id.clone());
            match outcome {
                Outcome::Applied(Some(state)) => {
                    applied.insert(key, state);
                }
                Outcome::Applied(None) => failures.push(format!(
                    "{}/{}: apply returned no state for a {:?}",
                    change.type_name, change.id, change.action
                )),
                not_made => failures.extend(why_not_made(change, &not_made)),
            }
        }
        if !failures.is_empty() {
            self.fail(rule, failures.join("; "));
            return Ok(None);
        }
        let mut actions: BTreeMap<String, usize> = BTreeMap::new();
        for change in &changes {
            *actions
                .entry(format!("{:?}", change.action).to_lowercase())
                .or_default() += 1;
        }
        let planned: Vec<String> = actions
            .iter()
            .map(|(action, count)| format!("{count} {action}"))
            .collect();
        self.pass(rule, format!("planned and applied: {}", planned.join(", ")));
        Ok(Some(applied))
    }

    fn failed_call<T>(&mut self, rule: Rule, function: &str, error: &PluginError) -> Option<T> {
        self.keep_error(error);
        self.fail(rule, format!("{function} failed: {error}"));
        None
    }

    /// After an apply: `list` agrees, the state applied is the state
    /// observed, and the next plan is empty. Returns whether the plan was.
    async fn settled(
        &mut self,
        desired: &[Desired],
        applied: &HashMap<Key, Value>,
    ) -> anyhow::Result<bool> {
        let observed = match self.observe(desired).await {
            Ok(observed) => observed,
            Err(error) => {
                return Ok(self
                    .failed_call::<()>(Rule::ListAgrees, "list", &error)
                    .is_some());
            }
        };
        let mut disagreements = Vec::new();
        let mut unlike = Vec::new();
        for d in desired {
            let key = (d.type_name.clone(), d.id.clone());
            let Some(seen) = observed.get(&key) else {
                disagreements.push(format!("{}/{} is not in list's answer", d.type_name, d.id));
                continue;
            };
            let resource_type = self.plugin.info().resource_type(&d.type_name);
            let seen_id = resource_type.map_or_else(
                || Ok(String::new()),
                |resource_type| resource_type.id_of(&seen.state),
            );
            match seen_id {
                Ok(id) if id == seen.id => {}
                Ok(id) => disagreements.push(format!(
                    "{}/{}: its observed state's identity fields give the id `{id}`",
                    d.type_name, seen.id
                )),
                Err(missing) => disagreements.push(format!(
                    "{}/{}: its observed state has no `{}`",
                    d.type_name, seen.id, missing.field
                )),
            }
            if let Some(schema) = resource_type.map(|t| &t.schema) {
                for problem in crate::config::schema::problems_under("state", &seen.state, schema) {
                    disagreements.push(format!("{}/{}: {problem}", d.type_name, seen.id));
                }
            }
            let one_sided = resource_type
                .map(|t| one_sided(&t.schema))
                .unwrap_or_default();
            if let Some(state) = applied.get(&key)
                && comparable(state, &one_sided) != comparable(&seen.state, &one_sided)
            {
                unlike.push(format!(
                    "{}/{}: apply returned {state}, list observes {}",
                    d.type_name, seen.id, seen.state
                ));
            }
        }
        if disagreements.is_empty() {
            self.pass(
                Rule::ListAgrees,
                "list shows every object under the host's id, shaped as its schema says",
            );
        } else {
            self.fail(Rule::ListAgrees, disagreements.join("; "));
        }
        if unlike.is_empty() {
            self.pass(
                Rule::AppliedIsObserved,
                "the states apply returned are those list observes",
            );
        } else {
            self.fail(Rule::AppliedIsObserved, unlike.join("; "));
        }
        let changes = match self.plan(desired, &observed, applied, false).await {
            Ok(changes) => changes,
            Err(error) => {
                return Ok(self
                    .failed_call::<()>(Rule::NextPlanEmpty, "diff", &error)
                    .is_some());
            }
        };
        let left: Vec<String> = changes
            .iter()
            .filter(|c| makes_a_difference(c))
            .map(|c| format!("{}/{}: {:?} ({})", c.type_name, c.id, c.action, c.summary))
            .collect();
        if left.is_empty() {
            Ok(true)
        } else {
            self.fail(Rule::NextPlanEmpty, left.join("; "));
            Ok(false)
        }
    }

    async fn lifecycle(&mut self, all: &[Vec<Desired>]) -> anyhow::Result<()> {
        self.probe = all[0].clone();
        self.remove_leftovers(&all[0]).await?;
        let Some(mut applied) = self
            .converge(&all[0], &HashMap::new(), &[Action::Create], Rule::Create)
            .await?
        else {
            return Ok(());
        };
        if !self.settled(&all[0], &applied).await? {
            return Ok(());
        }
        if let Some(request) = self.file.drift.clone() {
            match self.drift(&all[0], &applied, &request).await? {
                Some(repaired) => applied = repaired,
                None => return Ok(()),
            }
        } else {
            self.skip(
                Rule::DriftShown,
                "the conformance file gives no `[drift]` request",
            );
            self.skip(
                Rule::DriftRepaired,
                "the conformance file gives no `[drift]` request",
            );
        }
        if all.len() < 2 {
            self.skip(
                Rule::Update,
                "the conformance file gives one step: give a second with changed specs",
            );
        }
        for desired in &all[1..] {
            let Some(next) = self
                .converge(
                    desired,
                    &applied,
                    &[
                        Action::Update,
                        Action::Replace,
                        Action::Create,
                        Action::NoOp,
                    ],
                    Rule::Update,
                )
                .await?
            else {
                return Ok(());
            };
            applied = next;
            if !self.settled(desired, &applied).await? {
                return Ok(());
            }
        }
        self.pass(
            Rule::NextPlanEmpty,
            "after every apply, the same resources planned no change",
        );
        let last = all.last().expect("at least one step").clone();
        self.batch_order(&last, &applied).await;
        self.delete(&last, &applied).await;
        self.foreign_id().await;
        self.conflict().await?;
        Ok(())
    }

    /// Deletes what an earlier run of the rules left on the server.
    async fn remove_leftovers(&mut self, desired: &[Desired]) -> anyhow::Result<()> {
        let Ok(observed) = self.observe(desired).await else {
            return Ok(());
        };
        let left: Vec<Desired> = desired
            .iter()
            .filter(|d| observed.contains_key(&(d.type_name.clone(), d.id.clone())))
            .cloned()
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if let Ok(changes) = self.plan(&left, &observed, &HashMap::new(), true).await {
            let _ = self.apply(&changes).await;
        }
        Ok(())
    }

    async fn drift(
        &mut self,
        desired: &[Desired],
        applied: &HashMap<Key, Value>,
        request: &Request,
    ) -> anyhow::Result<Option<HashMap<Key, Value>>> {
        if let Err(error) = self.send(request).await {
            self.fail(
                Rule::DriftShown,
                format!("the `[drift]` request failed: {error}"),
            );
            return Ok(None);
        }
        let observed = match self.observe(desired).await {
            Ok(observed) => observed,
            Err(error) => return Ok(self.failed_call(Rule::DriftShown, "list", &error)),
        };
        let changes = match self.plan(desired, &observed, applied, false).await {
            Ok(changes) => changes,
            Err(error) => return Ok(self.failed_call(Rule::DriftShown, "diff", &error)),
        };
        if !changes.iter().any(makes_a_difference) {
            self.fail(
                Rule::DriftShown,
                format!("after {}, diff planned no change", request.describe()),
            );
            return Ok(None);
        }
        // The host does not ask `diff` about an object whose observed
        // state is exactly the state it recorded (the applied one, without
        // its sensitive fields), its write-only fields aside: drift there
        // is never planned.
        let unseen = |change: &Change| {
            let key = (change.type_name.clone(), change.id.clone());
            let (sensitive, write_only) = self
                .plugin
                .info()
                .resource_type(&change.type_name)
                .map(|t| {
                    (
                        t.sensitive.clone(),
                        crate::plan::write_only_fields(&t.schema),
                    )
                })
                .unwrap_or_default();
            match (observed.get(&key), applied.get(&key)) {
                (Some(seen), Some(recorded)) => crate::plan::same_but_write_only(
                    &seen.state,
                    &crate::plan::without_sensitive(recorded, &sensitive),
                    &write_only,
                ),
                _ => false,
            }
        };
        let planned: Vec<&Change> = changes.iter().filter(|c| makes_a_difference(c)).collect();
        let never_planned: Vec<String> = planned
            .iter()
            .filter(|change| unseen(change))
            .map(|c| format!("{}/{} ({})", c.type_name, c.id, c.summary))
            .collect();
        if !never_planned.is_empty() {
            self.fail(
                Rule::DriftShown,
                format!(
                    "after {}, diff planned {}, but list shows each object exactly as the last apply left it, so the host never asks diff about it: show the change in the observed state (an observed-only field, such as a fingerprint of what the server keeps)",
                    request.describe(),
                    never_planned.join("; ")
                ),
            );
            return Ok(None);
        }
        let shown: Vec<String> = planned
            .iter()
            .map(|c| format!("{}/{}: {}", c.type_name, c.id, c.summary))
            .collect();
        self.pass(Rule::DriftShown, shown.join("; "));
        let Some(repaired) = self
            .converge(
                desired,
                applied,
                &[
                    Action::Update,
                    Action::Replace,
                    Action::Create,
                    Action::NoOp,
                ],
                Rule::DriftRepaired,
            )
            .await?
        else {
            return Ok(None);
        };
        if self.settled(desired, &repaired).await? {
            Ok(Some(repaired))
        } else {
            self.fail(
                Rule::DriftRepaired,
                "the plan after the repair is not empty",
            );
            Ok(None)
        }
    }

    async fn batch_order(&mut self, desired: &[Desired], applied: &HashMap<Key, Value>) {
        if desired.len() < 2 {
            self.skip(
                Rule::BatchOrder,
                "the last step has one resource: give it two or more",
            );
            return;
        }
        // Each resource planned as if it did not exist, so that the
        // answers say more than `no-op`.
        let mut reversed: Vec<Desired> = desired.to_vec();
        reversed.reverse();
        let (Ok(forward), Ok(backward)) = (
            self.plan(desired, &HashMap::new(), applied, false).await,
            self.plan(&reversed, &HashMap::new(), applied, false).await,
        ) else {
            self.fail(Rule::BatchOrder, "diff failed on a reordered batch");
            return;
        };
        let by_id = |changes: Vec<Change>| -> BTreeMap<Key, (Action, String)> {
            changes
                .into_iter()
                .map(|c| {
                    (
                        (c.type_name, c.id),
                        (
                            c.action,
                            serde_json::to_string(&c.fields).unwrap_or_default(),
                        ),
                    )
                })
                .collect()
        };
        let (forward, backward) = (by_id(forward), by_id(backward));
        let differing: Vec<String> = forward
            .iter()
            .filter(|(key, answer)| backward.get(*key) != Some(answer))
            .map(|((type_name, id), _)| format!("{type_name}/{id}"))
            .collect();
        if differing.is_empty() && forward.len() == desired.len() {
            self.pass(
                Rule::BatchOrder,
                format!(
                    "{} inputs, forwards and backwards, got the same answers",
                    desired.len()
                ),
            );
        } else {
            self.fail(
                Rule::BatchOrder,
                format!("answers differ with the order for {}", differing.join(", ")),
            );
        }
    }

    async fn delete(&mut self, desired: &[Desired], applied: &HashMap<Key, Value>) {
        let observed = match self.observe(desired).await {
            Ok(observed) => observed,
            Err(error) => {
                self.failed_call::<()>(Rule::Delete, "list", &error);
                return;
            }
        };
        let changes = match self.plan(desired, &observed, applied, true).await {
            Ok(changes) => changes,
            Err(error) => {
                self.failed_call::<()>(Rule::Delete, "diff", &error);
                return;
            }
        };
        let not_deletes: Vec<String> = changes
            .iter()
            .filter(|c| c.action != Action::Delete)
            .map(|c| format!("{}/{} planned as {:?}", c.type_name, c.id, c.action))
            .collect();
        if !not_deletes.is_empty() {
            self.fail(Rule::Delete, not_deletes.join("; "));
            return;
        }
        let failed = |outcomes: Vec<Outcome>| -> Vec<String> {
            changes
                .iter()
                .zip(outcomes)
                .filter_map(|(change, outcome)| why_not_made(change, &outcome))
                .collect()
        };
        match self.apply(&changes).await {
            Ok(outcomes) => {
                let failures = failed(outcomes);
                if !failures.is_empty() {
                    self.fail(Rule::Delete, failures.join("; "));
                    return;
                }
            }
            Err(error) => {
                self.failed_call::<()>(Rule::Delete, "apply", &error);
                return;
            }
        }
        // `list` may show more than was asked: only these objects count.
        let still_there = |observed: HashMap<Key, Observed>| -> Vec<String> {
            desired
                .iter()
                .filter(|d| observed.contains_key(&(d.type_name.clone(), d.id.clone())))
                .map(|d| format!("{}/{}", d.type_name, d.id))
                .collect()
        };
        match self.observe(desired).await.map(still_there) {
            Ok(left) if left.is_empty() => self.pass(
                Rule::Delete,
                format!("{} object(s) deleted, and list shows none", changes.len()),
            ),
            Ok(left) => {
                self.fail(
                    Rule::Delete,
                    format!("list still shows {}", left.join(", ")),
                );
            }
            Err(error) => {
                self.failed_call::<()>(Rule::Delete, "list", &error);
            }
        }
        match self.apply(&changes).await {
            Ok(outcomes) => {
                let failures = failed(outcomes);
                if failures.is_empty() {
                    self.pass(
                        Rule::DeleteIdempotent,
                        "deleting the deleted objects again succeeded",
                    );
                } else {
                    self.fail(Rule::DeleteIdempotent, failures.join("; "));
                }
            }
            Err(error) => {
                self.failed_call::<()>(Rule::DeleteIdempotent, "apply", &error);
            }
        }
    }

    async fn conflict(&mut self) -> anyhow::Result<()> {
        let Some(conflict) = &self.file.conflict else {
            self.skip(
                Rule::CreateExistingConflicts,
                "the conformance file gives no `[conflict]` object",
            );
            return Ok(());
        };
        let request = conflict.request();
        let resources = parse_resources(&conflict.resources, "the `[conflict]` resources")?;
        let desired = self
            .canonical(&resources, "the `[conflict]` resources")
            .await?;
        if let Err(error) = self.send(&request).await {
            self.fail(
                Rule::CreateExistingConflicts,
                format!("the `[conflict]` request failed: {error}"),
            );
            return Ok(());
        }
        // A create, as a host whose list missed the object would send it.
        let changes = match self
            .plan(&desired, &HashMap::new(), &HashMap::new(), false)
            .await
        {
            Ok(changes) => changes,
            Err(error) => {
                self.failed_call::<()>(Rule::CreateExistingConflicts, "diff", &error);
                return Ok(());
            }
        };
        match self.apply(&changes).await {
            Ok(outcomes) => {
                let wrong: Vec<String> = changes
                    .iter()
                    .zip(outcomes)
                    .filter_map(|(c, outcome)| match outcome {
                        Outcome::Failed(error) if error.kind == ErrorKind::Conflict => None,
                        Outcome::Failed(error) => Some(format!(
                            "{}/{} failed with {:?}: {}",
                            c.type_name, c.id, error.kind, error.message
                        )),
                        Outcome::Applied(_) => Some(format!(
                            "{}/{} was created over the existing object",
                            c.type_name, c.id
                        )),
                        Outcome::Skipped(reason) => {
                            Some(format!("{}/{} was skipped: {reason}", c.type_name, c.id))
                        }
                    })
                    .collect();
                if wrong.is_empty() {
                    self.pass(
                        Rule::CreateExistingConflicts,
                        "the create failed with `conflict`",
                    );
                } else {
                    self.fail(Rule::CreateExistingConflicts, wrong.join("; "));
                }
            }
            Err(error) => {
                self.failed_call::<()>(Rule::CreateExistingConflicts, "apply", &error);
            }
        }
        Ok(())
    }

    /// A `list` of the first step's objects with other settings; the kind
    /// of its error. (A provider may look only for the ids it is asked
    /// about: asked for none, it need not reach its server at all.)
    async fn list_with(&mut self, settings: ProviderSettings) -> Result<(), Option<ErrorKind>> {
        let instance = ProviderInstance::new(self.host, self.plugin.clone(), settings);
        let mut types: Vec<String> = self.probe.iter().map(|d| d.type_name.clone()).collect();
        types.sort();
        types.dedup();
        let ids = self.probe.iter().map(|d| d.id.clone()).collect();
        match instance.list(types, ids).await {
            Ok(observed) => {
                self.keep(&observed);
                Ok(())
            }
            Err(error) => {
                self.keep_error(&error);
                Err(match error {
                    PluginError::Provider { error, .. } => Some(error.kind),
                    PluginError::Timeout { .. } => Some(ErrorKind::Timeout),
                    _ => None,
                })
            }
        }
    }

    async fn errors(&mut self) -> anyhow::Result<()> {
        if self.settings.secrets.is_empty() {
            self.skip(Rule::WrongCredential, "the provider is given no secrets");
        } else {
            let wrong = tempfile_with(WRONG_CREDENTIAL)?;
            let mut settings = self.settings.clone();
            for reference in settings.secrets.values_mut() {
                *reference = SecretRef::File {
                    file: wrong.path.clone(),
                };
            }
            let outcome = self.list_with(settings).await;
            self.expect_kind(
                Rule::WrongCredential,
                outcome,
                &[ErrorKind::Unauthorized],
                "with every secret wrong",
            );
        }

        let mut settings = self.settings.clone();
        settings.grants = Vec::new();
        let outcome = self.list_with(settings).await;
        self.expect_kind(
            Rule::UngrantedUrl,
            outcome,
            &[ErrorKind::Denied],
            "with no network grant",
        );

        match &self.file.unreachable {
            None => self.skip(
                Rule::Unreachable,
                "the conformance file gives no `[unreachable]` configuration",
            ),
            Some(unreachable) => {
                let mut settings = self.settings.clone();
                settings.config = unreachable.config.clone();
                settings.grants = grants(&unreachable.allow, &self.file.folder)?;
                let outcome = self.list_with(settings).await;
                self.expect_kind(
                    Rule::Unreachable,
                    outcome,
                    &[ErrorKind::Unavailable, ErrorKind::Timeout],
                    "against a server that does not answer",
                );
            }
        }
        Ok(())
    }

    fn expect_kind(
        &mut self,
        rule: Rule,
        outcome: Result<(), Option<ErrorKind>>,
        kinds: &[ErrorKind],
        situation: &str,
    ) {
        match outcome {
            Err(Some(kind)) if kinds.contains(&kind) => {
                self.pass(rule, format!("list {situation} failed with {kind:?}"));
            }
            Err(Some(kind)) => self.fail(
                rule,
                format!("list {situation} failed with {kind:?}, not {kinds:?}"),
            ),
            Err(None) => self.fail(
                rule,
                format!("list {situation} failed without an error kind"),
            ),
            Ok(()) => self.fail(rule, format!("list {situation} succeeded")),
        }
    }

    fn hygiene(&mut self, log: &str) {
        let mut sought = Vec::new();
        for (name, reference) in &self.settings.secrets {
            match reference.resolve(name) {
                Ok(value) if value.expose().chars().count() >= SHORTEST_SECRET_SOUGHT => {
                    sought.push((name.clone(), value.expose().to_string()));
                }
                _ => {}
            }
        }
        if sought.is_empty() {
            self.skip(
                Rule::SecretsHidden,
                format!("no secret of {SHORTEST_SECRET_SOUGHT} characters or more to look for"),
            );
            return;
        }
        let mut found = Vec::new();
        for (name, value) in &sought {
            if self.transcript.contains(value.as_str()) {
                found.push(format!("the secret `{name}` is in an answer of the plugin"));
            }
            if log.contains(value.as_str()) {
                found.push(format!(
                    "the secret `{name}` is in a log record of the plugin"
                ));
            }
        }
        if found.is_empty() {
            self.pass(
                Rule::SecretsHidden,
                format!(
                    "{} secret(s) found in no answer and no log record",
                    sought.len()
                ),
            );
        } else {
            self.fail(Rule::SecretsHidden, found.join("; "));
        }
    }

    /// Makes an out-of-band change: a request whose answer must be 2xx,
    /// or a command that must exit 0.
    async fn send(&self, request: &Request) -> anyhow::Result<()> {
        let fill = |text: &str| -> anyhow::Result<String> {
            let mut text = text.to_string();
            for (name, reference) in &self.settings.secrets {
                let token = format!("{{secret:{name}}}");
                if text.contains(&token) {
                    text = text.replace(&token, reference.resolve(name)?.expose());
                }
            }
            Ok(text)
        };
        let (Some(method), Some(url)) = (&request.method, &request.url) else {
            let arguments = request
                .command
                .iter()
                .map(|argument| fill(argument))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (program, arguments) = arguments
                .split_first()
                .ok_or_else(|| anyhow::anyhow!("{} has no program", request.describe()))?;
            let folder = match self.file.folder.as_os_str().is_empty() {
                true => std::path::Path::new("."),
                false => self.file.folder.as_path(),
            };
            let run = tokio::process::Command::new(program)
                .args(arguments)
                .current_dir(folder)
                .kill_on_drop(true)
                .output();
            let output = tokio::time::timeout(OUT_OF_BAND_TIMEOUT, run)
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{} ran longer than {OUT_OF_BAND_TIMEOUT:?}",
                        request.describe()
                    )
                })??;
            if !output.status.success() {
                anyhow::bail!(
                    "{} exited with {}: {}",
                    request.describe(),
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            return Ok(());
        };
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
            .map_err(|_| anyhow::anyhow!("`{method}` is not an HTTP method"))?;
        let client = reqwest::Client::builder()
            .timeout(OUT_OF_BAND_TIMEOUT)
            .build()?;
        let mut builder = client.request(method, fill(url)?);
        for (name, value) in &request.headers {
            builder = builder.header(name, fill(value)?);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header("content-type", "application/json")
                .body(fill(body)?);
        }
        let response = builder.send().await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            anyhow::bail!("{} answered {status}: {text}", request.describe());
        }
        Ok(())
    }
}

/// Records how `rule` came out in `checks`. A rule `skips` names is
/// skipped with its reason, whatever the run found. A rule is checked at
/// every step: its first failure stands, and a failure replaces a pass of
/// an earlier step.
fn record(
    checks: &mut Vec<Check>,
    skips: &BTreeMap<String, String>,
    rule: Rule,
    verdict: Verdict,
    detail: String,
) {
    let (verdict, detail) = match skips.get(rule.id()) {
        Some(reason) => (
            Verdict::Skip,
            format!("the conformance file skips it: {reason}"),
        ),
        None => (verdict, detail),
    };
    match checks.iter_mut().find(|check| check.rule == rule) {
        None => checks.push(Check {
            rule,
            verdict,
            detail,
        }),
        Some(check) if check.verdict == Verdict::Pass && verdict == Verdict::Fail => {
            check.verdict = Verdict::Fail;
            check.detail = detail;
        }
        Some(_) => {}
    }
}

/// Why `change` was not made, as its `outcome` says; `None` when it was
/// applied.
fn why_not_made(change: &Change, outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Applied(_) => None,
        Outcome::Failed(error) => Some(format!(
            "{}/{}: {:?}: {}",
            change.type_name, change.id, error.kind, error.message
        )),
        Outcome::Skipped(reason) => Some(format!(
            "{}/{}: skipped: {reason}",
            change.type_name, change.id
        )),
    }
}

/// Every rule, in report order.
pub const ALL_RULES: &[Rule] = &[
    Rule::ContractVersion,
    Rule::SchemasValid,
    Rule::FieldsInSchema,
    Rule::ValidateIdempotent,
    Rule::InvalidRefused,
    Rule::Create,
    Rule::ListAgrees,
    Rule::AppliedIsObserved,
    Rule::NextPlanEmpty,
    Rule::DriftShown,
    Rule::DriftRepaired,
    Rule::Update,
    Rule::Delete,
    Rule::DeleteIdempotent,
    Rule::CreateExistingConflicts,
    Rule::BatchOrder,
    Rule::UnknownTypeRefused,
    Rule::ForeignIdRefused,
    Rule::WrongCredential,
    Rule::UngrantedUrl,
    Rule::Unreachable,
    Rule::SecretsHidden,
];

/// The grants of `allow`, CA files relative to `folder`.
fn grants(allow: &[RawGrant], folder: &std::path::Path) -> anyhow::Result<Vec<Grant>> {
    allow
        .iter()
        .map(|grant| {
            grant
                .resolve(folder)
                .map_err(|error| anyhow::anyhow!("allow: {error}"))
        })
        .collect()
}

/// The top-level properties `schema` marks `"readOnly": true` — what the
/// server sets (an id, a version), which may move between an apply and
/// the next observation — or `"writeOnly": true` — what only the client
/// keeps (a password, a removal policy), which no observation shows.
fn one_sided(schema: &Value) -> Vec<String> {
    crate::plan::fields_marked(schema, &["readOnly", "writeOnly"])
}

/// A state as [`Rule::AppliedIsObserved`] compares it: without `null`s
/// and without the fields only one side has.
fn comparable(state: &Value, one_sided: &[String]) -> Value {
    let mut state = without_nulls(state);
    if let Value::Object(map) = &mut state {
        map.retain(|name, _| !one_sided.contains(name));
    }
    state
}

/// `value` with every `null` member of its objects left out: an absent
/// field and a `null` one are the same to the host.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// A file holding `text`, removed when dropped.
struct TempFile {
    path: std::path::PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn tempfile_with(text: &str) -> anyhow::Result<TempFile> {
    let path = std::env::temp_dir().join(format!(
        "cairn-plugin-test-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::write(&path, text)?;
    Ok(TempFile { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_listed_once() {
        let mut ids: Vec<&str> = ALL_RULES.iter().map(|r| r.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ALL_RULES.len());
        assert_eq!(ALL_RULES.len(), 22);
    }

    #[test]
    fn a_later_failure_replaces_a_pass_and_the_first_failure_stands() {
        let mut checks = Vec::new();
        let none = BTreeMap::new();
        record(
            &mut checks,
            &none,
            Rule::Update,
            Verdict::Pass,
            "step 2".into(),
        );
        record(
            &mut checks,
            &none,
            Rule::Update,
            Verdict::Fail,
            "step 3".into(),
        );
        record(
            &mut checks,
            &none,
            Rule::Update,
            Verdict::Fail,
            "step 4".into(),
        );
        record(
            &mut checks,
            &none,
            Rule::Update,
            Verdict::Pass,
            "step 5".into(),
        );
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].verdict, Verdict::Fail);
        assert_eq!(checks[0].detail, "step 3");

        let skips = BTreeMap::from([("update".to_string(), "no updates here".to_string())]);
        let mut checks = Vec::new();
        record(
            &mut checks,
            &skips,
            Rule::Update,
            Verdict::Fail,
            "step 2".into(),
        );
        assert_eq!(checks[0].verdict, Verdict::Skip);
        assert!(checks[0].detail.contains("no updates here"));
    }

    #[test]
    fn nulls_and_absent_fields_are_alike() {
        assert_eq!(
            without_nulls(&serde_json::json!({"a": 1, "b": null, "c": {"d": null}})),
            serde_json::json!({"a": 1, "c": {}})
        );
    }
}
