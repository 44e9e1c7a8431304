//! A Cairn provider for apps run as containers through the Docker Engine
//! API — Docker itself or podman's compatible service.
//!
//! Resource types:
//! - `app` (id: the name): `image`, `command`, `env` (text or operator
//!   secrets), `ports`, `volumes` (named), `network`, `restart`,
//!   `healthcheck`, `replicas`, `labels`.
//! - `volume` and `network` (id: the name), for apps that need them.
//!
//! Config: `url` (the Engine API, such as `http://127.0.0.1:2375`),
//! `api_version`, `owner` (the `cairn.owner` label: this instance sees and
//! touches only objects carrying it), `ulimits`, `ready_timeout`.

mod engine;
mod labels;
mod references;
mod rollout;
mod spec;

use cairn_sdk::diff::{compare, field_changes};
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::spec::{required_state, to_json};
use cairn_sdk::{
    Action, Change, Declarations, Diagnostic, DiffInput, Error, Observed, Outcome, Provider,
    ProviderInfo, Resource, Scope, Secrets, Validation,
};
use engine::{Config, Engine};
use rollout::Rollout;
use spec::{App, Network, Volume};
use std::collections::HashSet;
use std::time::Duration;

/// How long a new container may take to be ready when the operator does not
/// say: most services start in seconds; the plugin call's own deadline
/// (30 s by default) must leave room for a few.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The provider: a configured connection to one engine.
pub struct Apps {
    engine: Engine,
    secrets: Secrets,
    ready_timeout: Duration,
}

impl Provider for Apps {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "docker".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "apps as containers, volumes and networks of a Docker Engine API (Docker or podman)"
                    .into(),
            resource_types: spec::resource_types(),
            config_schema: json!({
                "type": "object",
                "required": ["url"],
                "additionalProperties": false,
                "properties": {
                    "url": {"type": "string", "description": "the Engine API's base URL, such as http://127.0.0.1:2375"},
                    "api_version": {"type": "string", "default": "v1.41"},
                    "owner": {"type": "string", "default": "cairn", "description": "the cairn.owner label; give each tenant its own"},
                    "ulimits": {"type": "object", "additionalProperties": {"type": "string", "description": "SOFT:HARD"}},
                    "ready_timeout": {"type": "string", "default": "20s"}
                }
            }),
        }
    }

    fn configure(config: Value, secrets: Secrets, owner: &str) -> Result<Self, Error> {
        let config: Config = cairn_sdk::spec::parse(&config)
            .map_err(|d| Error::invalid(format!("config {}: {}", d.path, d.message)))?;
        let ready_timeout = match &config.ready_timeout {
            None => DEFAULT_READY_TIMEOUT,
            Some(text) => {
                Duration::from_millis(cairn_sdk::spec::parse_duration(text).ok_or_else(|| {
                    Error::invalid(format!(
                        "config ready_timeout: `{text}` is not a duration such as \"20s\""
                    ))
                })?)
            }
        };
        Ok(Self {
            engine: Engine::new(config, owner)?,
            secrets,
            ready_timeout,
        })
    }

    fn validate(resource: &Resource) -> Validation {
        match resource.type_name.as_str() {
            "app" => spec::validate_app(&resource.spec),
            "volume" => spec::validate_volume(&resource.spec),
            "network" => spec::validate_network(&resource.spec),
            other => Validation::invalid(vec![Diagnostic::error(
                "",
                format!(
                    "unknown resource type `{other}`: this provider has app, volume and network"
                ),
            )]),
        }
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        let wanted: HashSet<&str> = scope.ids.iter().map(String::as_str).collect();
        let mut observed = Vec::new();
        if scope.wants("app") {
            for (name, containers) in labels::by_app(self.engine.containers()?) {
                if !wanted.contains(name.as_str()) {
                    continue;
                }
                if let Some(app) = labels::observed_app(&containers) {
                    let vouched = containers
                        .iter()
                        .all(|c| c.label(labels::MADE_BY) == Some(self.engine.made_by.as_str()));
                    observed.push(Observed {
                        vouched,
                        ..Observed::new("app", name, to_json(&app))
                    });
                }
            }
        }
        for (type_name, kind) in [("volume", "volumes"), ("network", "networks")] {
            if !scope.wants(type_name) {
                continue;
            }
            for item in self.engine.named(kind)? {
                if wanted.contains(item.name.as_str()) {
                    let state = match type_name {
                        "volume" => to_json(&Volume {
                            name: item.name.clone(),
                            driver: item.driver,
                        }),
                        _ => to_json(&Network {
                            name: item.name.clone(),
                            driver: item.driver,
                        }),
                    };
                    let vouched = item
                        .labels
                        .as_ref()
                        .and_then(|labels| labels.get(labels::MADE_BY))
                        == Some(&self.engine.made_by);
                    observed.push(Observed {
                        vouched,
                        ..Observed::new(type_name, item.name, state)
                    });
                }
            }
        }
        Ok(observed)
    }

    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        declarations: &Declarations,
    ) -> Result<Vec<Change>, Error> {
        let types = spec::resource_types();
        inputs
            .into_iter()
            .map(|input| {
                if input.type_name == "app" {
                    let mut change = diff_app(input)?;
                    // What an app refers to is checked whenever it is to be
                    // created or rolled out again.
                    if matches!(
                        change.action,
                        Action::Create | Action::Update | Action::Replace
                    ) && let Some(app) = change
                        .desired
                        .as_ref()
                        .and_then(|v| serde_json::from_value::<App>(v.clone()).ok())
                    {
                        change.diagnostics = references::check(&app, declarations, &self.engine)?;
                        if let Some(note) = references::external_note(&app) {
                            change.summary = format!("{}; {note}", change.summary);
                        }
                    }
                    return Ok(change);
                }
                let rules = types.iter().find(|t| t.name == input.type_name);
                Ok(compare(input, rules))
            })
            .collect()
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; changes.len()];
        let rollout = Rollout::new(&self.engine, &self.secrets, self.ready_timeout);
        // Volumes and networks before the apps that use them; apps that go
        // before the volumes and networks they used.
        let stages: [(&[&str], bool); 3] = [
            (&["volume", "network"], false),
            (&["app"], false),
            (&["app", "volume", "network"], true),
        ];
        for (types, deletes) in stages {
            for (index, change) in changes.iter().enumerate() {
                if outcomes[index].is_some()
                    || !types.contains(&change.type_name.as_str())
                    || (change.action == Action::Delete) != deletes
                {
                    continue;
                }
                let result = self.apply_one(&rollout, change);
                outcomes[index] = Some(match result {
                    Ok(state) => Outcome::Applied(state),
                    Err(error) => Outcome::Failed(
                        error.context(format!("{} {}", change.type_name, change.id)),
                    ),
                });
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| Outcome::Failed(Error::invalid("unknown resource type")))
            })
            .collect()
    }
}

impl Apps {
    fn address(&self, type_name: &str, id: &str) -> String {
        format!("{}/{type_name}/{id}", self.engine.owner)
    }

    fn apply_one(&self, rollout: &Rollout, change: &Change) -> Result<Option<Value>, Error> {
        if change.action == Action::NoOp {
            return Ok(change.observed.clone());
        }
        let kind = match change.type_name.as_str() {
            "app" => {
                return match change.action {
                    Action::Delete => {
                        let grace = change
                            .observed
                            .as_ref()
                            .and_then(|app| app.get("stop_grace_seconds"))
                            .and_then(Value::as_u64)
                            .map_or(spec::DEFAULT_STOP_GRACE_SECONDS, |s| s as u32);
                        rollout.remove(&change.id, grace).map(|()| None)
                    }
                    _ => {
                        let app: App = required_state(&change.desired)?;
                        rollout.apply(&app, &self.address("app", &change.id))?;
                        Ok(Some(to_json(&app)))
                    }
                };
            }
            "volume" => "volumes",
            "network" => "networks",
            other => return Err(Error::invalid(format!("unknown resource type `{other}`"))),
        };
        if matches!(change.action, Action::Delete | Action::Replace) {
            self.engine.delete_named(kind, &change.id)?;
            if change.action == Action::Delete {
                return Ok(None);
            }
        }
        let desired = change
            .desired
            .clone()
            .ok_or_else(|| Error::internal("the change carries no desired state"))?;
        // A name and a driver: nothing that can change in place.
        if change.action == Action::Update {
            return Ok(Some(desired));
        }
        let driver = desired["driver"].as_str().unwrap_or_default().to_string();
        self.engine.create_named(
            kind,
            &change.id,
            &driver,
            &self.address(&change.type_name, &change.id),
        )?;
        Ok(Some(desired))
    }
}

/// Compares an app: a new version is rolled out (the plan says how), a
/// different replica count scales or restarts.
fn diff_app(input: DiffInput) -> Result<Change, Error> {
    let desired: Option<App> = input
        .desired
        .as_ref()
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|error| {
            Error::internal(format!(
                "the desired app is not in this provider's form: {error}"
            ))
        })?;
    let observed: Option<App> = input
        .observed
        .as_ref()
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|error| {
            Error::internal(format!(
                "the observed app is not in this provider's form: {error}"
            ))
        })?;
    let fields = field_changes(input.observed.as_ref(), input.desired.as_ref());
    let (action, summary) = match (&desired, &observed) {
        (None, None) => (Action::NoOp, "no changes".to_string()),
        (Some(app), None) => (
            Action::Create,
            format!("run {} replica(s) of {}", app.replicas, app.image),
        ),
        (None, Some(app)) => (
            Action::Delete,
            format!("stop and remove the containers ({} up)", app.replicas),
        ),
        (Some(_), Some(_)) if fields.is_empty() => (Action::NoOp, "no changes".to_string()),
        (Some(new), Some(old)) => {
            if new.version() != old.version() {
                let image = if new.image != old.image {
                    format!("image {} → {}; ", old.image, new.image)
                } else {
                    String::new()
                };
                (
                    Action::Update,
                    format!("{image}new version, {}", rollout::strategy(new)),
                )
            } else if new.replicas > old.replicas {
                (
                    Action::Update,
                    format!(
                        "{} of {} replica(s) up: start {} more",
                        old.replicas,
                        new.replicas,
                        new.replicas - old.replicas
                    ),
                )
            } else {
                (
                    Action::Update,
                    format!("scale down {} → {}", old.replicas, new.replicas),
                )
            }
        }
    };
    Ok(input.into_change(action, summary, fields))
}

cairn_sdk::export_provider!(Apps);
