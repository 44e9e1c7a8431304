//! The parts of the Docker Engine API this provider uses (which podman
//! serves as well): the owner's containers, the faults and their restores,
//! and the volumes that keep experiments' records.

use cairn_sdk::http::{Client, Method, Response};
use cairn_sdk::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The API version asked for: Docker 20.10 and podman 4 and later speak it.
const DEFAULT_API_VERSION: &str = "v1.41";

/// The label naming a container's owner, written by the apps provider
/// (its config `owner`): the only containers an experiment may touch.
pub const OWNER: &str = "cairn.owner";
/// The label naming a container's app, written by the apps provider.
pub const APP: &str = "cairn.app";
/// The owner mark Cairn gave this provider instance, on its records.
pub const MADE_BY: &str = "cairn.made-by";
/// The owner whose containers a record's experiment acts on.
pub const RECORD_OWNER: &str = "cairn.chaos.owner";
/// The experiment a record is of.
pub const RECORD_EXPERIMENT: &str = "cairn.chaos.experiment";
/// The record's sequence number: a record is replaced by writing the next
/// one first, then deleting the older.
pub const RECORD_SEQUENCE: &str = "cairn.chaos.sequence";
/// The record itself, as JSON.
pub const RECORD: &str = "cairn.chaos.record";

/// A container as `GET /containers/json` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// Its id.
    pub id: String,
    /// Its names, each with a leading `/` on Docker.
    #[serde(default)]
    pub names: Vec<String>,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `running`, `paused`, `exited`, `created`, …
    #[serde(default)]
    pub state: String,
}

impl Container {
    /// Its name, without Docker's leading `/`.
    pub fn name(&self) -> String {
        self.names.first().map_or_else(
            || self.id.chars().take(12).collect(),
            |name| name.trim_start_matches('/').to_string(),
        )
    }

    /// Whether it is running and not paused.
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// A volume holding an experiment's record.
#[derive(Debug, Clone, Deserialize)]
pub struct Marker {
    /// The volume's name.
    #[serde(alias = "Name")]
    pub name: String,
    /// Its labels.
    #[serde(default, alias = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
}

impl Marker {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.as_ref()?.get(key).map(String::as_str)
    }

    /// The experiment it records.
    pub fn experiment(&self) -> Option<&str> {
        self.label(RECORD_EXPERIMENT)
    }

    /// Its sequence number.
    pub fn sequence(&self) -> u64 {
        self.label(RECORD_SEQUENCE)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The record, as JSON.
    pub fn record(&self) -> Option<Value> {
        serde_json::from_str(self.label(RECORD)?).ok()
    }

    /// Whether this provider instance wrote it.
    pub fn made_by(&self, mark: &str) -> bool {
        self.label(MADE_BY) == Some(mark)
    }
}

/// A connection to one engine, for one owner.
pub struct Engine {
    client: Client,
    /// The owner whose containers experiments act on.
    pub owner: String,
    /// This provider instance's owner mark.
    pub made_by: String,
}

impl Engine {
    /// A connection to the engine at `url`.
    pub fn new(url: &str, api_version: Option<&str>, owner: &str, made_by: &str) -> Self {
        let version = api_version.unwrap_or(DEFAULT_API_VERSION);
        Self {
            client: Client::new(&format!(
                "{}/{}",
                url.trim_end_matches('/'),
                version.trim_matches('/')
            )),
            owner: owner.to_string(),
            made_by: made_by.to_string(),
        }
    }

    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response, Error> {
        self.client.request_json(method, path, body)
    }

    /// Sends a request whose goal is a state (paused, started): a 2xx or
    /// one of `already` is success, and so is an answer whose text holds
    /// one of `already_said` (engines say "is not paused" with a 500).
    fn reach(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        already: &[u16],
        already_said: &[&str],
    ) -> Result<(), Error> {
        let response = self.send(method, path, body)?;
        let text = response.text().to_ascii_lowercase();
        if already.contains(&response.status)
            || (!(200..300).contains(&response.status)
                && already_said.iter().any(|said| text.contains(said)))
        {
            return Ok(());
        }
        response
            .error_for_status(&format!("{method} {path}"))
            .map(|_| ())
    }

    fn filters(labels: &[String]) -> String {
        let filters = json!({ "label": labels }).to_string();
        form_urlencoded::Serializer::new(String::new())
            .append_pair("filters", &filters)
            .finish()
    }

    /// The owner's containers bearing every one of `labels`, running or
    /// not.
    pub fn containers(&self, labels: &BTreeMap<String, String>) -> Result<Vec<Container>, Error> {
        let mut wanted = vec![format!("{OWNER}={}", self.owner)];
        wanted.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
        let path = format!("/containers/json?all=true&{}", Self::filters(&wanted));
        let mut containers: Vec<Container> = self
            .send(Method::GET, &path, None)?
            .error_for_status(&format!("GET {path}"))?
            .json()?;
        // Engines filter by label; this also covers one that does not: no
        // other owner's container ever reaches a fault.
        containers.retain(|container| {
            container.labels.get(OWNER) == Some(&self.owner)
                && labels
                    .iter()
                    .all(|(k, v)| container.labels.get(k) == Some(v))
        });
        containers.sort_by_key(Container::name);
        Ok(containers)
    }

    /// Whether containers bearing every one of `labels` exist under another
    /// owner: an experiment naming them names what is not its owner's.
    pub fn exists_elsewhere(&self, labels: &BTreeMap<String, String>) -> Result<bool, Error> {
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let path = format!("/containers/json?all=true&{}", Self::filters(&wanted));
        let containers: Vec<Container> = self
            .send(Method::GET, &path, None)?
            .error_for_status(&format!("GET {path}"))?
            .json()?;
        Ok(containers.iter().any(|container| {
            container.labels.get(OWNER) != Some(&self.owner)
                && labels
                    .iter()
                    .all(|(k, v)| container.labels.get(k) == Some(v))
        }))
    }

    /// Pauses a container.
    pub fn pause(&self, id: &str) -> Result<(), Error> {
        let path = format!("/containers/{id}/pause");
        self.reach(Method::POST, &path, None, &[], &["already paused"])
    }

    /// Unpauses a container; one that is not paused is fine.
    pub fn unpause(&self, id: &str) -> Result<(), Error> {
        let path = format!("/containers/{id}/unpause");
        self.reach(
            Method::POST,
            &path,
            None,
            &[404],
            &["not paused", "is not running"],
        )
    }

    /// Stops a container, with the grace its maker gave it (the apps
    /// provider's `stop_grace`, as the container's `StopTimeout`); one
    /// already stopped is fine.
    pub fn stop(&self, id: &str) -> Result<(), Error> {
        let path = format!("/containers/{id}/stop");
        self.reach(Method::POST, &path, None, &[304], &[])
    }

    /// Starts a container; one already running is fine.
    pub fn start(&self, id: &str) -> Result<(), Error> {
        let path = format!("/containers/{id}/start");
        self.reach(Method::POST, &path, None, &[304, 404], &["already running"])
    }

    /// Sends `signal` to a container.
    pub fn kill(&self, id: &str, signal: &str) -> Result<(), Error> {
        let path = format!("/containers/{id}/kill?signal={signal}");
        self.reach(Method::POST, &path, None, &[], &["is not running"])
    }

    /// Restarts a container, with the grace its maker gave it.
    pub fn restart(&self, id: &str) -> Result<(), Error> {
        let path = format!("/containers/{id}/restart");
        self.reach(Method::POST, &path, None, &[], &[])
    }

    /// Runs `command` inside a container, detached.
    pub fn exec(&self, id: &str, command: &[&str]) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        let path = format!("/containers/{id}/exec");
        let body = json!({ "Cmd": command, "AttachStdout": false, "AttachStderr": false });
        let created: Created = self
            .send(Method::POST, &path, Some(&body))?
            .error_for_status(&format!("POST {path}"))?
            .json()?;
        let start = format!("/exec/{}/start", created.id);
        self.send(Method::POST, &start, Some(&json!({ "Detach": true })))?
            .error_for_status(&format!("POST {start}"))
            .map(|_| ())
    }

    /// Disconnects a container from a network; one not connected is fine.
    pub fn disconnect(&self, id: &str, network: &str) -> Result<(), Error> {
        let path = format!("/networks/{network}/disconnect");
        let body = json!({ "Container": id, "Force": true });
        self.reach(
            Method::POST,
            &path,
            Some(&body),
            &[],
            &["not connected", "is not connected"],
        )
    }

    /// Connects a container to a network again; one connected is fine.
    pub fn connect(&self, id: &str, network: &str) -> Result<(), Error> {
        let path = format!("/networks/{network}/connect");
        let body = json!({ "Container": id });
        self.reach(
            Method::POST,
            &path,
            Some(&body),
            &[],
            &["already exists", "already connected"],
        )
    }

    /// Every record of experiments on this owner's containers, whichever
    /// provider instance wrote them.
    pub fn markers(&self) -> Result<Vec<Marker>, Error> {
        let path = format!(
            "/volumes?{}",
            Self::filters(&[format!("{RECORD_OWNER}={}", self.owner)])
        );
        let answer: Value = self
            .send(Method::GET, &path, None)?
            .error_for_status(&format!("GET {path}"))?
            .json()?;
        // Volumes come as `{ "Volumes": [...] }`.
        let items = match answer {
            Value::Object(mut map) => map.remove("Volumes").unwrap_or(Value::Null),
            other => other,
        };
        // An answer not understood is an error, never "no record": a run
        // in progress must not vanish from sight.
        let mut markers: Vec<Marker> = match items {
            Value::Null => Vec::new(),
            items => serde_json::from_value(items).map_err(|error| {
                Error::internal(format!(
                    "the engine's list of volumes is not understood: {error}"
                ))
            })?,
        };
        markers.retain(|marker| marker.label(RECORD_OWNER) == Some(self.owner.as_str()));
        Ok(markers)
    }

    /// Writes an experiment's record as the volume `name`.
    pub fn write_marker(
        &self,
        name: &str,
        experiment: &str,
        sequence: u64,
        record: &Value,
    ) -> Result<(), Error> {
        let body = json!({
            "Name": name,
            "Labels": {
                RECORD_OWNER: self.owner,
                MADE_BY: self.made_by,
                RECORD_EXPERIMENT: experiment,
                RECORD_SEQUENCE: sequence.to_string(),
                RECORD: record.to_string(),
            }
        });
        let response = self.send(Method::POST, "/volumes/create", Some(&body))?;
        let conflict = || {
            Error::new(
                ErrorKind::Conflict,
                format!(
                    "the volume `{name}` exists: another writer keeps this experiment's record"
                ),
            )
        };
        if response.status == 409 {
            return Err(conflict());
        }
        // podman answers 201 with the volume that exists under the name:
        // the record is written only if the labels are the ones sent.
        let created: Marker = response.error_for_status("POST /volumes/create")?.json()?;
        if created.sequence() != sequence || created.label(MADE_BY) != Some(self.made_by.as_str()) {
            return Err(conflict());
        }
        Ok(())
    }

    /// Deletes a record's volume; one already gone is fine.
    pub fn delete_marker(&self, name: &str) -> Result<(), Error> {
        self.reach(
            Method::DELETE,
            &format!("/volumes/{name}"),
            None,
            &[404],
            &[],
        )
    }
}
