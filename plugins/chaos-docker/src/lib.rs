//! A Cairn provider for chaos experiments on containers, through the
//! Docker Engine API — Docker itself or podman's compatible service.
//!
//! Resource type `experiment` (id: the name): a fault (`pause`, `stop`,
//! `kill`, `restart`, CPU `stress`, network `disconnect`) put into a count
//! or a share of an app's containers for a `duration`, once or on a
//! schedule, with steady-state probes checked before (a run does not start
//! on a system already unhealthy), during (a failing probe aborts the run
//! and restores at once) and after it (the probes must pass again within
//! `recovery`).
//!
//! An experiment's wanted state depends on the clock: every change says
//! when to look again (`recheck-after`), and the daemon comes back then.
//! Its record — the run in progress, the runs so far, how the last ended —
//! lives in the engine beside the containers (`marker.rs`), so that whoever
//! holds the tenant next finds a run in progress and restores it.
//!
//! While a run lasts, each of its changes holds the apps it acts on
//! (`holds`): the host neither reports their missing replicas as drift nor
//! repairs them until the run is over and recovered.
//!
//! Config: `url`, `api_version`, `owner` (the apps provider's `owner`: the
//! only containers experiments may touch), `apps` (the name of the tenant's
//! apps provider instance, whose apps runs hold), `max_duration` and
//! `max_share` (the operator's limits).

mod decide;
mod engine;
mod fault;
mod marker;
mod probe;
mod record;
mod schedule;
mod spec;

use cairn_sdk::diff::field_changes;
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::spec::{from_state, parse_duration, required_state};
use cairn_sdk::{
    Action, Change, Declarations, DiffInput, Error, FieldChange, Hold, Observed, Outcome, Provider,
    ProviderInfo, Resource, Scope, Secrets, Validation,
};
use decide::{Rails, Targets, World};
use engine::{Container, Engine, Marker};
use record::{Hit, Phase, Record, Status};
use serde::Deserialize;
use spec::{Experiment, Probe};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// The longest run when the operator does not say: long enough for a real
/// test of a failover, short enough that a forgotten experiment does not
/// hold a service down for long.
const DEFAULT_MAX_DURATION_MS: u64 = 10 * 60_000;

/// The largest share of an app's containers one run takes when the
/// operator does not say: half, so that a run leaves the other half
/// serving.
const DEFAULT_MAX_SHARE: u32 = 50;

/// The field of a change that carries the status `apply` moves the
/// experiment to.
const STATUS_FIELD: &str = record::STATUS;

/// The operator's configuration of a provider instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default = "default_owner")]
    owner: String,
    #[serde(default = "default_apps")]
    apps: String,
    #[serde(default)]
    max_duration: Option<String>,
    #[serde(default)]
    max_share: Option<u32>,
}

fn default_owner() -> String {
    "cairn".into()
}

fn default_apps() -> String {
    "apps".into()
}

/// The provider: a configured connection to one engine, for one owner.
pub struct Chaos {
    engine: Engine,
    rails: Rails,
    /// The tenant's apps provider instance, whose apps runs hold.
    apps: String,
}

impl Provider for Chaos {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "chaos".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "chaos experiments on the containers of a Docker Engine API (Docker or podman)"
                    .into(),
            resource_types: spec::resource_types(),
            config_schema: json!({
                "type": "object",
                "required": ["url"],
                "additionalProperties": false,
                "properties": {
                    "url": {"type": "string", "description": "the Engine API's base URL, such as http://127.0.0.1:2375"},
                    "api_version": {"type": "string", "default": "v1.41"},
                    "owner": {"type": "string", "default": "cairn", "description": "the apps provider's owner: experiments act only on its containers"},
                    "apps": {"type": "string", "default": "apps", "description": "the name of the tenant's apps provider instance, whose apps a run holds"},
                    "max_duration": {"type": "string", "default": "10m", "description": "the longest run an experiment may ask for"},
                    "max_share": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50, "description": "the largest share of an app's containers, in percent, one run may take"}
                }
            }),
        }
    }

    fn configure(config: Value, _secrets: Secrets, owner: &str) -> Result<Self, Error> {
        let config: Config = cairn_sdk::spec::parse(&config)
            .map_err(|d| Error::invalid(format!("config {}: {}", d.path, d.message)))?;
        if config.owner.trim().is_empty() {
            return Err(Error::invalid("config owner: it is empty"));
        }
        let max_duration_ms = match &config.max_duration {
            None => DEFAULT_MAX_DURATION_MS,
            Some(text) => parse_duration(text).ok_or_else(|| {
                Error::invalid(format!(
                    "config max_duration: `{text}` is not a duration such as \"10m\""
                ))
            })?,
        };
        let max_share = config.max_share.unwrap_or(DEFAULT_MAX_SHARE);
        if !(1..=100).contains(&max_share) {
            return Err(Error::invalid(format!(
                "config max_share: {max_share} is not a share from 1 to 100"
            )));
        }
        Ok(Self {
            engine: Engine::new(
                &config.url,
                config.api_version.as_deref(),
                &config.owner,
                owner,
            ),
            rails: Rails {
                max_duration_ms,
                max_share,
            },
            apps: config.apps,
        })
    }

    fn validate(resource: &Resource) -> Validation {
        match resource.type_name.as_str() {
            "experiment" => spec::validate(&resource.spec),
            other => Validation::invalid(vec![cairn_sdk::Diagnostic::error(
                "",
                format!("unknown resource type `{other}`: this provider has experiment"),
            )]),
        }
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        if !scope.wants("experiment") {
            return Ok(Vec::new());
        }
        let wanted: BTreeSet<&str> = scope.ids.iter().map(String::as_str).collect();
        let markers = self.engine.markers()?;
        Ok(marker::newest(&self.engine, &markers)
            .into_iter()
            .filter(|(name, _)| wanted.contains(name.as_str()))
            .map(|(name, (_, record))| Observed {
                // Only this instance's records are read (marker::newest).
                vouched: true,
                ..Observed::new("experiment", name, record.to_state())
            })
            .collect())
    }

    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        _declarations: &Declarations,
    ) -> Result<Vec<Change>, Error> {
        let world = Live::new(&self.engine)?;
        let now = chrono::Utc::now();
        inputs
            .into_iter()
            .map(|input| {
                let desired: Option<Experiment> = from_state(&input.desired, "desired experiment")?;
                let observed = input
                    .observed
                    .as_ref()
                    .map(Record::from_state)
                    .transpose()?;
                let decision = decide::decide(
                    desired.as_ref(),
                    observed.as_ref(),
                    now,
                    input.halt,
                    &world,
                    self.rails,
                )?;
                if let (Some(spec), Some(run)) = (
                    &desired,
                    decision.next.as_ref().and_then(|n| n.current.as_ref()),
                ) {
                    world.claim(&spec.name, &run.targets);
                }
                let mut fields = field_changes(
                    observed
                        .as_ref()
                        .map(|r| cairn_sdk::spec::to_json(&r.spec))
                        .as_ref(),
                    input.desired.as_ref(),
                );
                let before = observed.as_ref().map(|r| &r.status);
                if decision.next.as_ref() != before && decision.action != Action::NoOp {
                    fields.push(FieldChange {
                        path: STATUS_FIELD.into(),
                        before: before.map(cairn_sdk::spec::to_json),
                        after: decision.next.as_ref().map(cairn_sdk::spec::to_json),
                        sensitive: false,
                    });
                }
                if decision.action == Action::NoOp {
                    fields.clear();
                }
                // While a run lasts, every change of the experiment holds
                // its apps: the one that starts it, the no-ops while it
                // runs and recovers, the one that restores it.
                let holding = match (&decision.next, &observed, &desired) {
                    (Some(next), _, Some(spec)) if next.current.is_some() => {
                        decide::held_apps(spec, next)
                    }
                    (_, Some(record), _) => decide::held_apps(&record.spec, &record.status),
                    _ => Vec::new(),
                };
                let mut change = input.into_change(decision.action, decision.summary, fields);
                change.holds = holding
                    .into_iter()
                    .map(|(app, until)| Hold {
                        provider: self.apps.clone(),
                        type_name: "app".into(),
                        id: app,
                        until_ms: (until - now).num_milliseconds().max(0) as u64,
                    })
                    .collect();
                change.recheck_after_ms = decision.recheck_after_ms;
                change.notice = decision.notice;
                change.diagnostics = decision.diagnostics;
                Ok(change)
            })
            .collect()
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        changes
            .iter()
            .map(|change| match self.apply_one(change) {
                Ok(state) => Outcome::Applied(state),
                Err(error) => Outcome::Failed(error.context(format!("experiment {}", change.id))),
            })
            .collect()
    }
}

impl Chaos {
    fn apply_one(&self, change: &Change) -> Result<Option<Value>, Error> {
        let before = change
            .observed
            .as_ref()
            .map(Record::from_state)
            .transpose()?;
        if change.action == Action::NoOp {
            return Ok(change.observed.clone());
        }
        let running = before
            .as_ref()
            .and_then(|r| r.status.current.as_ref())
            .filter(|run| run.phase == Phase::Running);
        if change.action == Action::Delete {
            if let Some(run) = running {
                fault::restore(&self.engine, run)?;
            }
            marker::remove(&self.engine, &change.id)?;
            return Ok(None);
        }
        let spec: Experiment = required_state(&change.desired)?;
        let now = chrono::Utc::now();
        let mut next: Status = change
            .fields
            .iter()
            .find(|field| field.path == STATUS_FIELD)
            .and_then(|field| field.after.as_ref())
            .map(|after| serde_json::from_value(after.clone()))
            .transpose()
            .map_err(|error| {
                Error::internal(format!(
                    "the change's status is not in this provider's form: {error}"
                ))
            })?
            .or_else(|| before.as_ref().map(|r| r.status.clone()))
            .unwrap_or_else(|| Status::armed_at(now));
        let starting = next
            .current
            .as_ref()
            .filter(|run| run.phase == Phase::Running && running.is_none());
        if let Some(run) = starting {
            // The record first: a crash after it leaves a run that the
            // next holder restores (a restore of what was never hit is
            // harmless); a fault first could leave one nobody knows of.
            let record = Record {
                spec: spec.clone(),
                status: next.clone(),
            };
            marker::write(&self.engine, &record)?;
            if let Err(error) = fault::inflict(&self.engine, &spec, run) {
                let mut failed = next.clone();
                match fault::restore(&self.engine, run) {
                    // Nothing of the run is left: it did not happen.
                    Ok(()) => {
                        failed.current = None;
                        failed.last = Some(record::Ended {
                            number: run.number,
                            outcome: record::Ending::Skipped,
                            message: format!("the fault could not be put in: {}", error.message),
                            at: now,
                        });
                    }
                    // Some target may still be hit: the run stays
                    // recorded, over now, for the next look to restore.
                    Err(_) => {
                        if let Some(current) = failed.current.as_mut() {
                            current.ends = now;
                        }
                    }
                }
                marker::write(
                    &self.engine,
                    &Record {
                        spec,
                        status: failed,
                    },
                )?;
                return Err(error);
            }
            return Ok(Some(record.to_state()));
        }
        if let Some(run) = running
            && next
                .current
                .as_ref()
                .is_none_or(|after| after.phase != Phase::Running)
        {
            // The restore first: a crash before the record is written
            // leaves the run recorded as running, restored again next.
            fault::restore(&self.engine, run)?;
            if let Some(recovering) = next.current.clone()
                && probe::check(&spec.probes).is_ok()
            {
                let mut ended = recovering.outcome.unwrap_or(record::Ended {
                    number: recovering.number,
                    outcome: record::Ending::Completed,
                    message: String::new(),
                    at: now,
                });
                ended.at = now;
                next.current = None;
                next.last = Some(ended);
            }
        }
        let record = Record { spec, status: next };
        marker::write(&self.engine, &record)?;
        Ok(Some(record.to_state()))
    }
}

/// The world as one `diff` call sees it: the owner's containers and every
/// experiment record on them, read once.
struct Live<'a> {
    engine: &'a Engine,
    /// Containers under a run in progress, by the experiment running it;
    /// a run this call decides to start claims its targets here, so that
    /// an experiment compared after it in the same call finds them busy.
    busy: RefCell<BTreeMap<String, String>>,
    /// Containers by target selector, read once per call.
    containers: RefCell<BTreeMap<Selector, Vec<Container>>>,
}

/// The labels a target selects containers by.
type Selector = BTreeMap<String, String>;

impl<'a> Live<'a> {
    fn new(engine: &'a Engine) -> Result<Self, Error> {
        let markers: Vec<Marker> = engine.markers()?;
        let mut busy = BTreeMap::new();
        // Every record on this owner's containers, whichever instance
        // wrote it: one experiment per target at a time.
        let mut newest: BTreeMap<(String, String), (u64, Value)> = BTreeMap::new();
        for marker in &markers {
            let (Some(experiment), Some(record)) = (marker.experiment(), marker.record()) else {
                continue;
            };
            let made_by = marker
                .labels
                .as_ref()
                .and_then(|labels| labels.get(engine::MADE_BY))
                .cloned()
                .unwrap_or_default();
            let key = (made_by, experiment.to_string());
            if newest
                .get(&key)
                .is_none_or(|(sequence, _)| *sequence < marker.sequence())
            {
                newest.insert(key, (marker.sequence(), record));
            }
        }
        for ((_, experiment), (_, record)) in newest {
            let Ok(record) = Record::from_state(&record) else {
                continue;
            };
            if let Some(run) = record
                .status
                .current
                .filter(|run| run.phase == Phase::Running)
            {
                for target in run.targets {
                    busy.insert(target.id, experiment.clone());
                }
            }
        }
        Ok(Self {
            engine,
            busy: RefCell::new(busy),
            containers: RefCell::new(BTreeMap::new()),
        })
    }

    /// Marks `targets` as under `experiment`'s run.
    fn claim(&self, experiment: &str, targets: &[Hit]) {
        let mut busy = self.busy.borrow_mut();
        for target in targets {
            busy.insert(target.id.clone(), experiment.to_string());
        }
    }

    fn selector(spec: &Experiment) -> Selector {
        match &spec.target.app {
            Some(app) => BTreeMap::from([(engine::APP.to_string(), app.clone())]),
            None => spec.target.labels.clone(),
        }
    }
}

impl World for Live<'_> {
    fn targets(&self, spec: &Experiment) -> Result<Targets, Error> {
        let selector = Self::selector(spec);
        if !self.containers.borrow().contains_key(&selector) {
            let found = self.engine.containers(&selector)?;
            self.containers.borrow_mut().insert(selector.clone(), found);
        }
        let cache = self.containers.borrow();
        let containers = &cache[&selector];
        let free = containers
            .iter()
            .filter(|c| c.is_running())
            .filter(|c| {
                self.busy
                    .borrow()
                    .get(&c.id)
                    .is_none_or(|by| *by == spec.name)
            })
            .map(|c| Hit {
                id: c.id.clone(),
                name: c.name(),
                app: c.labels.get(engine::APP).cloned(),
            })
            .collect();
        let elsewhere = containers.is_empty() && self.engine.exists_elsewhere(&selector)?;
        Ok(Targets {
            available: containers.len(),
            free,
            elsewhere,
        })
    }

    fn probe(&self, probes: &[Probe]) -> Result<(), probe::Failure> {
        probe::check(probes)
    }
}

cairn_sdk::export_provider!(Chaos);
