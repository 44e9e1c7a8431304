//! The parts of the Docker Engine API this provider uses — containers,
//! images, volumes, networks — which podman serves as well.

use crate::labels;
use cairn_sdk::http::{Client, Method, Response};
use cairn_sdk::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The API version asked for: Docker 20.10 and podman 4 and later speak it.
const DEFAULT_API_VERSION: &str = "v1.41";

/// The operator's configuration of a provider instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Engine API's base URL, such as `http://127.0.0.1:2375`.
    pub url: String,
    /// The API version in paths.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Written as the `cairn.owner` label of everything this instance
    /// creates, and the only objects it sees: give each tenant its own.
    #[serde(default = "default_owner")]
    pub owner: String,
    /// `HostConfig.Ulimits` of every container, `NAME = "SOFT:HARD"`; some
    /// engines (podman with low hard limits) need them explicitly.
    #[serde(default)]
    pub ulimits: BTreeMap<String, String>,
    /// How long a new container may take to be running (and healthy, when
    /// it has a health check) before the rollout stops.
    #[serde(default)]
    pub ready_timeout: Option<String>,
}

fn default_owner() -> String {
    "cairn".into()
}

/// podman runs health checks from systemd timers; without systemd they
/// never run on their own, and its own API runs one on request. Docker
/// answers 404 here and runs its checks itself.
const PODMAN_HEALTHCHECK: &str = "/v4.0.0/libpod/containers/{id}/healthcheck";

/// A connection to one engine.
pub struct Engine {
    client: Client,
    /// The API's root, without the version, for podman's own endpoints.
    root: Client,
    /// The owner label's value.
    pub owner: String,
    /// The owner mark Cairn gave this provider instance, written as the
    /// [`labels::MADE_BY`] label of everything it creates.
    pub made_by: String,
    ulimits: Vec<Value>,
}

/// A container as `GET /containers/json` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Its id.
    pub id: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `running`, `exited`, `created`, …
    #[serde(default)]
    pub state: String,
    /// A human status, such as `Up 3 seconds (healthy)`.
    #[serde(default)]
    pub status: String,
    /// When it was created, in seconds since the epoch.
    #[serde(default)]
    pub created: i64,
}

impl ContainerSummary {
    /// Running and not reported unhealthy.
    pub fn is_up(&self) -> bool {
        self.state == "running" && !self.status.contains("unhealthy")
    }

    /// A Cairn label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// What `GET /containers/{id}/json` says of a container's state.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    state: InspectState,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    #[serde(default)]
    running: bool,
    #[serde(default)]
    status: String,
    #[serde(default)]
    exit_code: i64,
    #[serde(default)]
    health: Option<Health>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Health {
    #[serde(default)]
    status: String,
}

/// A container's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Running, and healthy when it has a health check.
    Ready,
    /// Running, health not yet known.
    Starting,
    /// Exited or unhealthy: it will not become ready.
    Failed(String),
}

/// A named object (volume, network) with its labels.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    /// Its name.
    #[serde(alias = "Name")]
    pub name: String,
    /// Its driver.
    #[serde(default, alias = "Driver")]
    pub driver: String,
    /// Its labels.
    #[serde(default, alias = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
}

impl Engine {
    /// A connection from the operator's configuration.
    pub fn new(config: Config, made_by: &str) -> Result<Self, Error> {
        let version = config
            .api_version
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        let ulimits = config
            .ulimits
            .iter()
            .map(|(name, limits)| {
                let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
                match (soft.parse::<i64>(), hard.parse::<i64>()) {
                    (Ok(soft), Ok(hard)) => Ok(json!({"Name": name, "Soft": soft, "Hard": hard})),
                    _ => Err(Error::invalid(format!(
                        "config ulimits.{name}: `{limits}` is not SOFT:HARD"
                    ))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if config.owner.trim().is_empty() {
            return Err(Error::invalid("config owner: it is empty"));
        }
        Ok(Self {
            root: Client::new(&config.url),
            client: Client::new(&format!(
                "{}/{}",
                config.url.trim_end_matches('/'),
                version.trim_matches('/')
            )),
            owner: config.owner,
            made_by: made_by.to_string(),
            ulimits,
        })
    }

    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response, Error> {
        self.client.request_json(method, path, body)
    }

    fn ok(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response, Error> {
        self.send(method, path, body)?
            .error_for_status(&format!("{method} {path}"))
    }

    /// Sends a request whose goal is a state (started, stopped, gone): a
    /// 2xx or one of `already` (the engine saying the state already holds)
    /// is success.
    fn reach(&self, method: Method, path: &str, already: &[u16]) -> Result<(), Error> {
        let response = self.send(method, path, None)?;
        if already.contains(&response.status) {
            return Ok(());
        }
        response
            .error_for_status(&format!("{method} {path}"))
            .map(|_| ())
    }

    /// `?filters=` selecting this owner's objects, and more labels.
    fn filter(&self, more: &[(&str, &str)]) -> String {
        let mut labels = vec![format!("{}={}", labels::OWNER, self.owner)];
        labels.extend(more.iter().map(|(key, value)| format!("{key}={value}")));
        let filters = json!({"label": labels}).to_string();
        form_urlencoded::Serializer::new(String::new())
            .append_pair("filters", &filters)
            .finish()
    }

    /// Every container of this owner, running or not.
    pub fn containers(&self) -> Result<Vec<ContainerSummary>, Error> {
        let path = format!("/containers/json?all=true&{}", self.filter(&[]));
        let mut containers: Vec<ContainerSummary> = self.ok(Method::GET, &path, None)?.json()?;
        // Engines filter by label; this also covers one that does not.
        containers.retain(|c| c.label(labels::OWNER) == Some(self.owner.as_str()));
        Ok(containers)
    }

    /// Whether the engine has `image`.
    pub fn has_image(&self, image: &str) -> Result<bool, Error> {
        self.exists(&format!("/images/{image}/json"))
    }

    /// Creates a container from a `/containers/create` body; returns its id.
    pub fn create_container(&self, name: &str, mut body: Value) -> Result<String, Error> {
        if !self.ulimits.is_empty() {
            body["HostConfig"]["Ulimits"] = Value::Array(self.ulimits.clone());
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .finish();
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        let created: Created = self
            .ok(
                Method::POST,
                &format!("/containers/create?{query}"),
                Some(&body),
            )?
            .json()?;
        Ok(created.id)
    }

    /// Starts a container; one already running is fine.
    pub fn start(&self, id: &str) -> Result<(), Error> {
        self.reach(Method::POST, &format!("/containers/{id}/start"), &[304])
    }

    /// Stops a container, killing it after `grace_seconds`; one already
    /// stopped or gone is fine.
    pub fn stop(&self, id: &str, grace_seconds: u32) -> Result<(), Error> {
        let path = format!("/containers/{id}/stop?t={grace_seconds}");
        self.reach(Method::POST, &path, &[304, 404])
    }

    /// Removes a container, stopping it first if need be; one already gone
    /// is fine.
    pub fn remove(&self, id: &str) -> Result<(), Error> {
        self.reach(
            Method::DELETE,
            &format!("/containers/{id}?force=true"),
            &[404],
        )
    }

    /// How ready a container is.
    pub fn readiness(&self, id: &str) -> Result<Readiness, Error> {
        let inspect: Inspect = self
            .ok(Method::GET, &format!("/containers/{id}/json"), None)?
            .json()?;
        let state = inspect.state;
        if !state.running {
            return Ok(Readiness::Failed(format!(
                "it is {} (exit code {})",
                state.status, state.exit_code
            )));
        }
        let mut status = state.health.map(|health| health.status);
        if status.as_deref() == Some("starting") {
            // podman's on-demand check answers `unhealthy` after any one
            // failed run; the stored status, read on the next look, counts
            // `retries` first. Only a pass settles it here.
            if self.run_healthcheck(id).as_deref() == Some("healthy") {
                status = Some("healthy".into());
            }
        }
        Ok(match status {
            None => Readiness::Ready,
            Some(status) if status.is_empty() => Readiness::Ready,
            Some(status) if status == "healthy" => Readiness::Ready,
            Some(status) if status == "unhealthy" => {
                Readiness::Failed("its health check fails".into())
            }
            Some(_) => Readiness::Starting,
        })
    }

    /// Runs a container's health check now where the engine offers it
    /// (podman); `None` where it does not (Docker runs them itself).
    fn run_healthcheck(&self, id: &str) -> Option<String> {
        let path = PODMAN_HEALTHCHECK.replace("{id}", id);
        let response = self.root.send(Method::GET, &path, None).ok()?;
        if response.status != 200 {
            return None;
        }
        let health: Health = response.json().ok()?;
        Some(health.status)
    }

    /// This owner's volumes or networks (`kind` is `volumes` or
    /// `networks`).
    pub fn named(&self, kind: &str) -> Result<Vec<Named>, Error> {
        let path = format!("/{kind}?{}", self.filter(&[]));
        let answer: Value = self.ok(Method::GET, &path, None)?.json()?;
        // Volumes come as `{ "Volumes": [...] }`, networks as a list.
        let items = match answer {
            Value::Object(mut map) => map.remove("Volumes").unwrap_or(Value::Null),
            other => other,
        };
        let mut named: Vec<Named> = serde_json::from_value(items).unwrap_or_default();
        named.retain(|item| {
            item.labels
                .as_ref()
                .and_then(|labels| labels.get(labels::OWNER))
                == Some(&self.owner)
        });
        Ok(named)
    }

    /// Creates a volume or network with this owner's labels.
    pub fn create_named(
        &self,
        kind: &str,
        name: &str,
        driver: &str,
        address: &str,
    ) -> Result<(), Error> {
        let body = json!({
            "Name": name,
            "Driver": driver,
            "Labels": {labels::OWNER: self.owner, labels::MADE_BY: self.made_by, labels::ADDRESS: address}
        });
        let path = format!("/{kind}/create");
        let response = self.send(Method::POST, &path, Some(&body))?;
        let conflict = || {
            Error::new(
                ErrorKind::Conflict,
                format!(
                    "a {} named `{name}` exists and Cairn did not create it: remove or rename it, or rename this resource",
                    &kind[..kind.len() - 1]
                ),
            )
        };
        // Docker answers 409; podman answers 500 for a network ("already
        // used") and 201 with the existing one for a volume.
        if response.status == 409 || (response.status == 500 && response.text().contains("already"))
        {
            return Err(conflict());
        }
        let response = response.error_for_status(&format!("POST {path}"))?;
        if kind == "volumes" {
            let created: Named = response.json()?;
            let owner = created
                .labels
                .as_ref()
                .and_then(|labels| labels.get(labels::OWNER));
            if owner != Some(&self.owner) {
                return Err(conflict());
            }
        }
        Ok(())
    }

    /// Whether the engine has the volume or network (`kind`: `volumes` or
    /// `networks`) called `name`, whoever made it.
    pub fn has_named(&self, kind: &str, name: &str) -> Result<bool, Error> {
        self.exists(&format!("/{kind}/{name}"))
    }

    /// Whether `GET path` finds something: 404 is no, any other failure
    /// an error.
    fn exists(&self, path: &str) -> Result<bool, Error> {
        let response = self.send(Method::GET, path, None)?;
        match response.status {
            404 => Ok(false),
            _ => response
                .error_for_status(&format!("GET {path}"))
                .map(|_| true),
        }
    }

    /// Deletes a volume or network; one already gone is fine.
    pub fn delete_named(&self, kind: &str, name: &str) -> Result<(), Error> {
        self.reach(Method::DELETE, &format!("/{kind}/{name}"), &[404])
    }
}
