//! The resource types `app`, `volume` and `network`: their specs as
//! written in Git, their validation and their canonical form, which is also
//! the shape of their observed state.

use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::spec::parse_duration;
use cairn_sdk::{Diagnostic, ResourceType, Validation, spec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The most replicas an app may ask for: more than one engine runs well,
/// few enough that a typo (`replicas = 1000`) is caught.
pub const MAX_REPLICAS: u32 = 100;

/// Seconds a stopping container gets by default, as with Docker and
/// Compose.
pub const DEFAULT_STOP_GRACE_SECONDS: u32 = 10;

/// Label keys Cairn writes; an app's own labels may not use the prefix.
pub const LABEL_PREFIX: &str = "cairn.";

/// The restart policies of the Docker Engine API.
const RESTART_POLICIES: &[&str] = &["no", "always", "unless-stopped", "on-failure"];

/// An environment value: text, or a reference to an operator secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    /// A value written in Git.
    Text(String),
    /// A secret of this provider instance, resolved at apply time.
    Secret {
        /// The secret's name in `cairn.toml`.
        secret: String,
    },
}

/// A published port: the host side is bound on `host_ip` (loopback by
/// default); replica `n` gets `host + n`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// The host port of the first replica.
    pub host: u16,
    /// The container port.
    pub container: u16,
    /// `tcp` or `udp`.
    #[serde(default = "tcp")]
    pub protocol: String,
    /// The host address to bind.
    #[serde(default = "loopback")]
    pub host_ip: String,
}

fn tcp() -> String {
    "tcp".into()
}

fn loopback() -> String {
    "127.0.0.1".into()
}

/// The port numbers that can be published: 1 to 65535 (0 asks the
/// kernel for any free port, which Git could not name).
const PORTS: std::ops::RangeInclusive<u16> = 1..=u16::MAX;

/// A port as written: `"8080:80"`, `"8080:80/udp"` or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PortSpec {
    Short(String),
    Table(PortTable),
}

/// A port written as a table, its numbers as written: one out of
/// [`PORTS`] is refused with its value, not by the parser.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortTable {
    host: i64,
    container: i64,
    #[serde(default = "tcp")]
    protocol: String,
    #[serde(default = "loopback")]
    host_ip: String,
}

/// A named volume mounted into the app: `"data:/var/lib/app"`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// The volume's name.
    pub volume: String,
    /// Where it is mounted in the container.
    pub path: String,
    /// Mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// The volume is the engine's, not the commit's: Cairn neither creates
    /// nor deletes it, and the plan checks that it exists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MountSpec {
    Short(String),
    Table(Mount),
}

/// A health check, as in a Dockerfile's `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// Run through the container's shell (`CMD-SHELL`).
    pub command: String,
    /// Between checks, in milliseconds.
    pub interval_ms: u64,
    /// A check's time limit, in milliseconds.
    pub timeout_ms: u64,
    /// Failures in a row that make the container unhealthy.
    pub retries: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthcheckSpec {
    command: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    retries: Option<u32>,
    /// The canonical form of `interval`: a canonical spec validates to
    /// itself.
    #[serde(default)]
    interval_ms: Option<u64>,
    /// The canonical form of `timeout`.
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// An app as written in Git.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppSpec {
    name: String,
    image: String,
    #[serde(default)]
    command: Option<CommandSpec>,
    #[serde(default)]
    env: BTreeMap<String, EnvValue>,
    #[serde(default)]
    ports: Vec<PortSpec>,
    #[serde(default)]
    volumes: Vec<MountSpec>,
    #[serde(default)]
    network: Option<NetworkRef>,
    #[serde(default)]
    restart: Option<String>,
    #[serde(default)]
    healthcheck: Option<HealthcheckSpec>,
    #[serde(default)]
    replicas: Option<u32>,
    #[serde(default)]
    stop_grace: Option<String>,
    /// The canonical form of `stop_grace`: a canonical spec validates to
    /// itself.
    #[serde(default)]
    stop_grace_seconds: Option<u32>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The network an app joins: a name, or `{ name, external = true }` for
/// one the engine has and the commit does not declare.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NetworkRef {
    Name(String),
    Table {
        name: String,
        #[serde(default)]
        external: bool,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandSpec {
    Shell(String),
    Exec(Vec<String>),
}

/// An app in canonical form. Observed apps have the same shape: the spec
/// their containers were made from, with `replicas` the number running.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// The app's name (its identity), lower case.
    pub name: String,
    /// The image reference.
    pub image: String,
    /// The command, exec form; empty for the image's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Published ports, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Mounted named volumes, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    /// The network the containers join; the engine's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The network is the engine's, not the commit's: the plan checks that
    /// it exists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external_network: bool,
    /// The engine's restart policy.
    pub restart: String,
    /// The health check, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Containers to run.
    pub replicas: u32,
    /// Seconds a container gets to stop before it is killed.
    #[serde(default)]
    pub stop_grace_seconds: u32,
    /// The app's own labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl App {
    /// The digest of everything but `replicas`: containers with another
    /// digest are of another version and are replaced.
    pub fn version(&self) -> String {
        let mut template = self.clone();
        template.replicas = 0;
        let text = serde_json::to_string(&template).expect("an app serializes");
        hex::encode(&Sha256::digest(text.as_bytes())[..6])
    }
}

/// A named volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Its name (its identity).
    pub name: String,
    /// The volume driver.
    #[serde(default = "local")]
    pub driver: String,
}

/// A network apps can join.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Its name (its identity).
    pub name: String,
    /// The network driver.
    #[serde(default = "bridge")]
    pub driver: String,
}

fn local() -> String {
    "local".into()
}

fn bridge() -> String {
    "bridge".into()
}

/// The resource types.
pub fn resource_types() -> Vec<ResourceType> {
    vec![
        ResourceType::new("app", "containers of one image, kept running", &["name"]).schema(json!({
            "type": "object",
            "required": ["name", "image"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},
                "image": {"type": "string"},
                "command": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "env": {"type": "object", "additionalProperties": {"oneOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["secret"], "properties": {"secret": {"type": "string"}}}]}},
                "ports": {"type": "array", "items": {"oneOf": [{"type": "string", "description": "HOST:CONTAINER[/udp]"}, {"type": "object"}]}},
                "volumes": {"type": "array", "items": {"oneOf": [
                    {"type": "string", "description": "VOLUME:/path[:ro], a volume the commit declares"},
                    {"type": "object", "required": ["volume", "path"], "properties": {
                        "volume": {"type": "string"}, "path": {"type": "string"},
                        "read_only": {"type": "boolean"},
                        "external": {"type": "boolean", "description": "the engine's volume, which the commit does not declare"}}}]}},
                "network": {"oneOf": [
                    {"type": "string", "description": "a network the commit declares, or one of the engine's own (bridge, host, none, podman)"},
                    {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"},
                        "external": {"type": "boolean", "description": "the engine's network, which the commit does not declare"}}}]},
                "restart": {"enum": RESTART_POLICIES, "default": "unless-stopped"},
                "healthcheck": {"type": "object", "required": ["command"], "properties": {
                    "command": {"type": "string"},
                    "interval": {"type": "string", "default": "5s"},
                    "timeout": {"type": "string", "default": "3s"},
                    "retries": {"type": "integer", "minimum": 0, "default": 3},
                    "interval_ms": {"type": "integer", "minimum": 0, "description": "interval in milliseconds, as the canonical spec gives it"},
                    "timeout_ms": {"type": "integer", "minimum": 0, "description": "timeout in milliseconds, as the canonical spec gives it"}}},
                "replicas": {"type": "integer", "minimum": 0, "maximum": MAX_REPLICAS, "default": 1},
                "stop_grace": {"type": "string", "default": "10s", "description": "time to stop before being killed"},
                "stop_grace_seconds": {"type": "integer", "minimum": 0, "description": "stop_grace in seconds, as the canonical spec and the observed state give it"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        })),
        ResourceType::new("volume", "a named volume", &["name"])
            .schema(named_with_driver("local"))
            .force_replace(&["driver"]),
        ResourceType::new("network", "a network apps can join", &["name"])
            .schema(named_with_driver("bridge"))
            .force_replace(&["driver"]),
    ]
}

/// The schema of a volume or a network: a name, and a driver
/// (`default_driver` unless given).
fn named_with_driver(default_driver: &str) -> Value {
    json!({
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string"},
            "driver": {"type": "string", "default": default_driver}
        }
    })
}

/// Names of apps, volumes and networks: what the engine accepts in a
/// container name, lower case.
fn check_name(path: &str, name: &str, errors: &mut Vec<Diagnostic>) {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if !valid {
        errors.push(
            Diagnostic::error(path, format!("`{name}` is not a valid name")).with_help(
                "use lower-case letters, digits, `_`, `.` and `-`, starting with a letter or digit",
            ),
        );
    }
}

fn parse_port(index: usize, port: PortSpec, errors: &mut Vec<Diagnostic>) -> Option<Port> {
    let path = format!("ports/{index}");
    // The numbers as written, the protocol, the address, and the paths of
    // the numbers.
    let (host, container, protocol, host_ip, paths) = match port {
        PortSpec::Table(port) => (
            port.host.to_string(),
            port.container.to_string(),
            port.protocol,
            port.host_ip,
            [format!("{path}/host"), format!("{path}/container")],
        ),
        PortSpec::Short(text) => {
            let (ports, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
            let parsed = ports
                .split_once(':')
                .filter(|(host, container)| is_number(host) && is_number(container));
            let Some((host, container)) = parsed else {
                errors.push(
                    Diagnostic::error(path, format!("`{text}` is not HOST:CONTAINER"))
                        .with_help("write \"8080:80\", \"5353:53/udp\" or a table { host = 8080, container = 80 }"),
                );
                return None;
            };
            (
                host.to_string(),
                container.to_string(),
                protocol.to_string(),
                loopback(),
                [path.clone(), path.clone()],
            )
        }
    };
    if protocol != "tcp" && protocol != "udp" {
        errors.push(Diagnostic::error(
            format!("{path}/protocol"),
            format!("unknown protocol `{protocol}`: use tcp or udp"),
        ));
    }
    let mut in_range = |number: String, side: &str, path: &str| match number.parse::<u16>() {
        Ok(port) if PORTS.contains(&port) => Some(port),
        _ => {
            errors.push(
                Diagnostic::error(
                    path,
                    format!(
                        "the {side} port {number} is out of range {}–{}",
                        PORTS.start(),
                        PORTS.end()
                    ),
                )
                .with_help("ports are numbers from 1 to 65535"),
            );
            None
        }
    };
    let host = in_range(host, "host", &paths[0]);
    let container = in_range(container, "container", &paths[1]);
    Some(Port {
        host: host?,
        container: container?,
        protocol,
        host_ip,
    })
}

/// Whether `text` (a side of `HOST:CONTAINER`) is a number: digits.
fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

fn parse_mount(index: usize, mount: MountSpec, errors: &mut Vec<Diagnostic>) -> Option<Mount> {
    let path = format!("volumes/{index}");
    let mount = match mount {
        MountSpec::Table(mount) => mount,
        MountSpec::Short(text) => {
            let parts: Vec<&str> = text.split(':').collect();
            match parts.as_slice() {
                [volume, target] => Mount {
                    volume: volume.to_string(),
                    path: target.to_string(),
                    read_only: false,
                    external: false,
                },
                [volume, target, "ro"] => Mount {
                    volume: volume.to_string(),
                    path: target.to_string(),
                    read_only: true,
                    external: false,
                },
                _ => {
                    errors.push(
                        Diagnostic::error(path, format!("`{text}` is not VOLUME:/path"))
                            .with_help("write \"data:/var/lib/app\" or \"data:/var/lib/app:ro\""),
                    );
                    return None;
                }
            }
        }
    };
    check_name(&path, &mount.volume, errors);
    if !mount.path.starts_with('/') {
        errors.push(Diagnostic::error(
            path,
            format!("the mount path `{}` is not absolute", mount.path),
        ));
    }
    Some(mount)
}

/// Validates an app and returns its canonical form.
pub fn validate_app(value: &Value) -> Validation {
    let spec: AppSpec = match spec::parse(value) {
        Ok(spec) => spec,
        Err(diagnostic) => return Validation::invalid(vec![diagnostic]),
    };
    let mut errors = Vec::new();
    let name = spec.name.trim().to_string();
    check_name("name", &name, &mut errors);
    let image = spec.image.trim().to_string();
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        errors.push(Diagnostic::error(
            "image",
            format!("`{image}` is not an image reference"),
        ));
    }
    let command = match spec.command {
        None => Vec::new(),
        Some(CommandSpec::Exec(command)) => command,
        Some(CommandSpec::Shell(line)) => vec!["/bin/sh".into(), "-c".into(), line],
    };
    for key in spec.env.keys() {
        if key.is_empty() || key.contains('=') {
            errors.push(Diagnostic::error(
                format!("env/{key}"),
                "an environment name may not be empty or hold `=`",
            ));
        }
    }
    let replicas = spec.replicas.unwrap_or(1);
    if replicas > MAX_REPLICAS {
        errors.push(Diagnostic::error(
            "replicas",
            format!("at most {MAX_REPLICAS} replicas"),
        ));
    }
    let ports: Vec<(usize, Port)> = spec
        .ports
        .into_iter()
        .enumerate()
        .filter_map(|(index, port)| Some((index, parse_port(index, port, &mut errors)?)))
        .collect();
    // Each port at its place as written, before they are sorted.
    for (index, port) in &ports {
        if u32::from(port.host) + replicas.saturating_sub(1) > u32::from(u16::MAX) {
            errors.push(Diagnostic::error(
                format!("ports/{index}"),
                format!(
                    "replica {} would need host port {} + {}",
                    replicas - 1,
                    port.host,
                    replicas - 1
                ),
            ));
        }
    }
    let mut ports: Vec<Port> = ports.into_iter().map(|(_, port)| port).collect();
    ports.sort();
    let mut volumes: Vec<Mount> = spec
        .volumes
        .into_iter()
        .enumerate()
        .filter_map(|(index, mount)| parse_mount(index, mount, &mut errors))
        .collect();
    volumes.sort();
    let restart = spec.restart.unwrap_or_else(|| "unless-stopped".into());
    if !RESTART_POLICIES.contains(&restart.as_str()) {
        errors.push(
            Diagnostic::error("restart", format!("unknown restart policy `{restart}`"))
                .with_help(format!("use one of {}", RESTART_POLICIES.join(", "))),
        );
    }
    let healthcheck = spec.healthcheck.and_then(|check| {
        let mut duration = |field: &str, text: Option<String>, default: u64| match text {
            None => Some(default),
            Some(text) => parse_duration(&text).or_else(|| {
                errors.push(
                    Diagnostic::error(
                        format!("healthcheck/{field}"),
                        format!("`{text}` is not a duration"),
                    )
                    .with_help("write \"500ms\", \"5s\", \"1m\""),
                );
                None
            }),
        };
        let interval_ms = match check.interval_ms {
            Some(ms) => ms,
            None => duration("interval", check.interval, 5_000)?,
        };
        let timeout_ms = match check.timeout_ms {
            Some(ms) => ms,
            None => duration("timeout", check.timeout, 3_000)?,
        };
        Some(Healthcheck {
            command: check.command,
            interval_ms,
            timeout_ms,
            retries: check.retries.unwrap_or(3),
        })
    });
    let stop_grace_seconds = match &spec.stop_grace {
        None => spec
            .stop_grace_seconds
            .unwrap_or(DEFAULT_STOP_GRACE_SECONDS),
        Some(text) => match parse_duration(text) {
            Some(ms) => u32::try_from(ms.div_ceil(1_000)).unwrap_or(u32::MAX),
            None => {
                errors.push(
                    Diagnostic::error("stop_grace", format!("`{text}` is not a duration"))
                        .with_help("write \"10s\" or \"1m\""),
                );
                0
            }
        },
    };
    for key in spec.labels.keys() {
        if key.starts_with(LABEL_PREFIX) {
            errors.push(Diagnostic::error(
                format!("labels/{key}"),
                format!("labels starting with `{LABEL_PREFIX}` are Cairn's own"),
            ));
        }
    }
    let (network, external_network) = match spec.network {
        None => (None, false),
        Some(NetworkRef::Name(name)) => (Some(name), false),
        Some(NetworkRef::Table { name, external }) => (Some(name), external),
    };
    if let Some(network) = &network {
        check_name("network", network, &mut errors);
    }
    if !errors.is_empty() {
        return Validation::invalid(errors);
    }
    let app = App {
        name,
        image,
        command,
        env: spec.env,
        ports,
        volumes,
        network,
        external_network,
        restart,
        healthcheck,
        replicas,
        stop_grace_seconds,
        labels: spec.labels,
    };
    Validation::valid(serde_json::to_value(app).expect("an app serializes"))
}

/// Validates a volume.
pub fn validate_volume(value: &Value) -> Validation {
    match spec::parse::<Volume>(value) {
        Ok(volume) => {
            let mut errors = Vec::new();
            check_name("name", &volume.name, &mut errors);
            if errors.is_empty() {
                Validation::valid(serde_json::to_value(volume).expect("a volume serializes"))
            } else {
                Validation::invalid(errors)
            }
        }
        Err(diagnostic) => Validation::invalid(vec![diagnostic]),
    }
}

/// Validates a network.
pub fn validate_network(value: &Value) -> Validation {
    match spec::parse::<Network>(value) {
        Ok(network) => {
            let mut errors = Vec::new();
            check_name("name", &network.name, &mut errors);
            if errors.is_empty() {
                Validation::valid(serde_json::to_value(network).expect("a network serializes"))
            } else {
                Validation::invalid(errors)
            }
        }
        Err(diagnostic) => Validation::invalid(vec![diagnostic]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(spec: Value) -> App {
        let validation = validate_app(&spec);
        assert!(
            validation.diagnostics.is_empty(),
            "{:?}",
            validation.diagnostics
        );
        serde_json::from_value(validation.canonical.unwrap()).unwrap()
    }

    #[test]
    fn short_forms_become_tables_with_safe_defaults() {
        let app = app(json!({
            "name": "web", "image": "web:1", "command": "httpd -f",
            "ports": ["8080:80", "5353:53/udp"], "volumes": ["data:/srv:ro"],
            "env": {"MODE": "prod", "TOKEN": {"secret": "token"}},
            "healthcheck": {"command": "wget -q -O- localhost", "interval": "2s"}
        }));
        assert_eq!(app.command, ["/bin/sh", "-c", "httpd -f"]);
        assert_eq!(app.ports[0].host_ip, "127.0.0.1");
        assert_eq!(app.ports[1].protocol, "tcp");
        assert!(app.volumes[0].read_only);
        assert_eq!(app.replicas, 1);
        assert_eq!(app.restart, "unless-stopped");
        assert_eq!(app.healthcheck.unwrap().interval_ms, 2_000);
        assert_eq!(
            app.env["TOKEN"],
            EnvValue::Secret {
                secret: "token".into()
            }
        );
    }

    #[test]
    fn replicas_do_not_change_the_version_but_the_image_does() {
        let one = app(json!({"name": "web", "image": "web:1"}));
        let three = app(json!({"name": "web", "image": "web:1", "replicas": 3}));
        let two = app(json!({"name": "web", "image": "web:2"}));
        assert_eq!(one.version(), three.version());
        assert_ne!(one.version(), two.version());
    }

    #[test]
    fn mistakes_are_reported_by_path() {
        let validation = validate_app(&json!({
            "name": "Web!", "image": "web:1", "ports": ["80"], "volumes": ["x:rel"],
            "restart": "sometimes", "labels": {"cairn.address": "x"},
            "healthcheck": {"command": "true", "interval": "soon"}
        }));
        let paths: Vec<&str> = validation
            .diagnostics
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "name",
                "ports/0",
                "volumes/0",
                "restart",
                "healthcheck/interval",
                "labels/cairn.address"
            ]
        );
    }

    #[test]
    fn ports_out_of_range_say_so_with_their_value() {
        let validation = validate_app(&json!({
            "name": "web", "image": "web:1",
            "ports": ["8080:80", "70000:80", {"host": 8081, "container": 0}, "80:99999999999999999999", "web:80"]
        }));
        let problems: Vec<(&str, &str)> = validation
            .diagnostics
            .iter()
            .map(|d| (d.path.as_str(), d.message.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                ("ports/1", "the host port 70000 is out of range 1–65535"),
                (
                    "ports/2/container",
                    "the container port 0 is out of range 1–65535"
                ),
                (
                    "ports/3",
                    "the container port 99999999999999999999 is out of range 1–65535"
                ),
                ("ports/4", "`web:80` is not HOST:CONTAINER"),
            ]
        );
    }
}
