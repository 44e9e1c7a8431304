//! Bringing an app's containers to its spec, replica by replica.
//!
//! A replica whose container runs the desired version is left alone (or
//! started again if it stopped). Otherwise a new container is made: when
//! the app publishes host ports the old container must let go of them
//! first (stop, then start the new one); otherwise the new one starts
//! first and the old one goes once the new one is ready. A new container
//! that does not become ready is removed and the old one is left running
//! (or started again). Replicas beyond `replicas` go last.

use crate::engine::{ContainerSummary, Engine, Readiness};
use crate::labels;
use crate::spec::{App, EnvValue};
use cairn_sdk::serde_json::{Map, Value, json};
use cairn_sdk::{Error, ErrorKind, Secrets, log};
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often a starting container is looked at.
const READY_POLL: Duration = Duration::from_millis(200);

/// How an app's new version replaces the old, stated in plans.
pub fn strategy(app: &App) -> String {
    if app.ports.is_empty() {
        "rolling: each new replica starts and is ready before its old one stops".into()
    } else {
        let ports: Vec<String> = app.ports.iter().map(|port| port.host.to_string()).collect();
        format!(
            "stop-then-start per replica: host port(s) {} are held by the running version",
            ports.join(", ")
        )
    }
}

/// The rollouts of one `apply` call.
pub struct Rollout<'a> {
    engine: &'a Engine,
    secrets: &'a Secrets,
    ready_timeout: Duration,
    /// This owner's containers by app, listed once per call: each app
    /// touches only its own, so one listing serves every app of the batch.
    containers: OnceCell<BTreeMap<String, Vec<ContainerSummary>>>,
}

impl<'a> Rollout<'a> {
    /// A rollout on `engine`, waiting at most `ready_timeout` for each new
    /// container.
    pub fn new(engine: &'a Engine, secrets: &'a Secrets, ready_timeout: Duration) -> Self {
        Self {
            engine,
            secrets,
            ready_timeout,
            containers: OnceCell::new(),
        }
    }

    /// The app's containers as they were when the call began.
    fn containers_of(&self, app: &str) -> Result<Vec<ContainerSummary>, Error> {
        if self.containers.get().is_none() {
            let listed = labels::by_app(self.engine.containers()?);
            let _ = self.containers.set(listed);
        }
        Ok(self
            .containers
            .get()
            .and_then(|apps| apps.get(app))
            .cloned()
            .unwrap_or_default())
    }

    /// The `KEY=VALUE` list, secrets resolved.
    fn environment(&self, app: &App) -> Result<Vec<String>, Error> {
        app.env
            .iter()
            .map(|(key, value)| match value {
                EnvValue::Text(text) => Ok(format!("{key}={text}")),
                EnvValue::Secret { secret } => self
                    .secrets
                    .get(secret)
                    .map(|value| format!("{key}={value}"))
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "env.{key} names the secret `{secret}`, which this provider instance does not have: add it to `secrets` in cairn.toml"
                        ))
                    }),
            })
            .collect()
    }

    /// The `/containers/create` body of one replica.
    fn container_body(&self, app: &App, replica: u32, address: &str, env: &[String]) -> Value {
        let mut labels: Map<String, Value> = app
            .labels
            .iter()
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect();
        labels.insert(labels::OWNER.into(), json!(self.engine.owner));
        labels.insert(labels::MADE_BY.into(), json!(self.engine.made_by));
        labels.insert(labels::ADDRESS.into(), json!(address));
        labels.insert(labels::APP.into(), json!(app.name));
        labels.insert(labels::VERSION.into(), json!(app.version()));
        labels.insert(labels::REPLICA.into(), json!(replica.to_string()));
        labels.insert(
            labels::SPEC.into(),
            json!(serde_json::to_string(app).expect("an app serializes")),
        );
        let mut exposed = Map::new();
        let mut bindings = Map::new();
        for port in &app.ports {
            let key = format!("{}/{}", port.container, port.protocol);
            exposed.insert(key.clone(), json!({}));
            bindings.insert(
                key,
                json!([{"HostIp": port.host_ip, "HostPort": (u32::from(port.host) + replica).to_string()}]),
            );
        }
        let mounts: Vec<Value> = app
            .volumes
            .iter()
            .map(|mount| {
                json!({"Type": "volume", "Source": mount.volume, "Target": mount.path, "ReadOnly": mount.read_only})
            })
            .collect();
        let mut host = json!({
            "PortBindings": bindings,
            "RestartPolicy": {"Name": app.restart},
            "Mounts": mounts,
        });
        if let Some(network) = &app.network {
            host["NetworkMode"] = json!(network);
        }
        let mut body = json!({
            "StopTimeout": app.stop_grace_seconds,
            "Image": app.image,
            "Env": env,
            "Labels": labels,
            "ExposedPorts": exposed,
            "HostConfig": host,
        });
        if !app.command.is_empty() {
            body["Cmd"] = json!(app.command);
        }
        if let Some(check) = &app.healthcheck {
            const NANOS_PER_MILLI: u64 = 1_000_000;
            body["Healthcheck"] = json!({
                "Test": ["CMD-SHELL", check.command],
                "Interval": check.interval_ms * NANOS_PER_MILLI,
                "Timeout": check.timeout_ms * NANOS_PER_MILLI,
                "Retries": check.retries,
                "StartPeriod": 0,
            });
        }
        body
    }

    /// Waits until a container is ready; on failure says why.
    fn wait_ready(&self, id: &str) -> Result<(), String> {
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            match self.engine.readiness(id) {
                Ok(Readiness::Ready) => return Ok(()),
                Ok(Readiness::Failed(reason)) => return Err(reason),
                Ok(Readiness::Starting) => {}
                Err(error) => return Err(error.message),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "it was not ready within {} s",
                    self.ready_timeout.as_secs()
                ));
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// Makes one new container for `replica` and starts it; `old` are the
    /// replica's containers of other versions. On failure the new one is
    /// removed and the old ones run again.
    fn replace(
        &self,
        app: &App,
        replica: u32,
        address: &str,
        env: &[String],
        old: &[&ContainerSummary],
    ) -> Result<(), Error> {
        let stop_first = !app.ports.is_empty();
        let grace = app.stop_grace_seconds;
        if stop_first {
            for container in old {
                self.engine.stop(&container.id, grace)?;
            }
        }
        let name = format!("{}-{}-{replica}", app.name, app.version());
        let body = self.container_body(app, replica, address, env);
        let id = match self.engine.create_container(&name, body) {
            Ok(id) => id,
            Err(error) => {
                self.restore(old, stop_first);
                return Err(match error.kind {
                    ErrorKind::Conflict => Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "a container named `{name}` exists and Cairn did not create it: remove or rename it ({})",
                            error.message
                        ),
                    ),
                    _ => error,
                });
            }
        };
        let started = self
            .engine
            .start(&id)
            .map_err(|error| error.message)
            .and_then(|()| self.wait_ready(&id));
        if let Err(reason) = started {
            let _ = self.engine.remove(&id);
            self.restore(old, stop_first);
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "replica {replica} of version {} did not become ready: {reason}; the previous version is left running",
                    app.version()
                ),
            ));
        }
        for container in old {
            self.engine.stop(&container.id, grace)?;
            self.engine.remove(&container.id)?;
        }
        Ok(())
    }

    /// Starts again containers a failed replacement had stopped.
    fn restore(&self, old: &[&ContainerSummary], stopped: bool) {
        if stopped {
            for container in old {
                if let Err(error) = self.engine.start(&container.id) {
                    log::warn(
                        "could not start the previous container again",
                        &[("container", &container.id), ("error", &error.message)],
                    );
                }
            }
        }
    }

    /// Brings `app`'s containers to its spec. `address` is its Cairn
    /// address, for labels.
    pub fn apply(&self, app: &App, address: &str) -> Result<(), Error> {
        // Everything that can be checked is checked before anything stops.
        let env = self.environment(app)?;
        if !self.engine.has_image(&app.image)? {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "the image `{}` is not on the engine: build or pull it there first; the running version is left as it is",
                    app.image
                ),
            ));
        }
        let containers = self.containers_of(&app.name)?;
        let version = app.version();
        let grace = app.stop_grace_seconds;
        let mut handled: Vec<&str> = Vec::new();
        for replica in 0..app.replicas {
            let mine: Vec<&ContainerSummary> = containers
                .iter()
                .filter(|container| labels::replica(container) == Some(replica))
                .collect();
            let (current, old): (Vec<&ContainerSummary>, Vec<&ContainerSummary>) = mine
                .into_iter()
                .partition(|container| container.label(labels::VERSION) == Some(version.as_str()));
            handled.extend(current.iter().map(|container| container.id.as_str()));
            if let Some(container) = current.first() {
                if container.is_up() {
                    for stale in &old {
                        self.engine.remove(&stale.id)?;
                    }
                    handled.extend(old.iter().map(|container| container.id.as_str()));
                    continue;
                }
                // Stopped or unhealthy: start it again, or make it anew.
                let restarted = self
                    .engine
                    .start(&container.id)
                    .map_err(|error| error.message)
                    .and_then(|()| self.wait_ready(&container.id));
                if restarted.is_ok() {
                    continue;
                }
                self.engine.remove(&container.id)?;
            }
            self.replace(app, replica, address, &env, &old)?;
            handled.extend(old.iter().map(|container| container.id.as_str()));
        }
        // Replicas beyond the count, and whatever else is left.
        for container in &containers {
            let keep = labels::replica(container).is_some_and(|replica| replica < app.replicas)
                && container.label(labels::VERSION) == Some(version.as_str());
            if !keep && !handled.contains(&container.id.as_str()) {
                self.engine.stop(&container.id, grace)?;
                self.engine.remove(&container.id)?;
            }
        }
        Ok(())
    }

    /// Stops and removes every container of the app, each given `grace`
    /// seconds to stop.
    pub fn remove(&self, name: &str, grace: u32) -> Result<(), Error> {
        for container in self.containers_of(name)? {
            self.engine.stop(&container.id, grace)?;
            self.engine.remove(&container.id)?;
        }
        Ok(())
    }
}
