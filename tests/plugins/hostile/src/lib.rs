//! A provider that misbehaves on purpose in `list`, as its config's `mode`
//! says, so the tests can check that the host contains it:
//! - `spin`: loops forever in guest code (the epoch deadline stops it);
//! - `spin-diff`: lists nothing, then loops forever in `diff`;
//! - `big-header-set`: puts a 120 KiB value in one header set (more than
//!   the host lets one set hold);
//! - `hold-headers`: creates header sets of 12 KiB each (just under the
//!   host's cap on one set) and holds them all, without end (the host's
//!   cap on resources held stops it);
//! - `hog`: allocates memory without end (the memory limit stops it);
//! - `panic`: panics (the trap is reported with the panic message);
//! - `sleep`: blocks on a host clock for an hour (the outer timeout stops it);
//! - `exfiltrate`: calls a URL the operator did not grant;
//! - `headers`: sends a request with 100 headers to `target` (more than
//!   the host lets a request carry, fewer bytes than a header set holds);
//! - `big-request`: sends a 17 MiB body to `target`;
//! - `big-stream`: streams a 17 MiB body to `target` + `/sink` without
//!   declaring its length;
//! - `flood`: opens 2,000 requests to `target` at once and reports, as the
//!   error, how many the host refused;
//! - `stall-bodies`: opens 16 POSTs to `target` whose bodies it never
//!   writes nor finishes, holds them 2 s, and reports them as the error
//!   (each holds a turn of the endpoint's shared limit until the host
//!   gives it back);
//! - `follow`: GETs `target` and follows a redirect by hand;
//! - `host-header`: tries to set `Host` to reach another name;
//! - `recurse`: recurses without end (the stack limit stops it);
//! - `huge-return`: returns an observed state of [`HUGE_RETURN`] bytes,
//!   built within a memory limit that lets it be built, so that the host's
//!   limit on results is what refuses it;
//! - `log-flood`: writes a million log records;
//! - `log-fields`: writes 200 log records, each with a 1 MiB field;
//! - `log-fields-flood`: writes 2,000 such records;
//! - `big-response`: reads an 80 MiB answer from `target` + `/big`;
//! - `many-headers`: reads an answer with hundreds of headers from
//!   `target` + `/many-headers`;
//! - `apply-trap`, `apply-panic`: list nothing, then trap or panic in
//!   `apply`;
//! - `apply-send`: POSTs each change to `target` in `apply` (to test what
//!   the host lets an apply send);
//! - `flip-flop`: observes its one object differently on every call;
//! - `garbage`: answers `diff` with a delete of a resource it was not
//!   asked about, in place of the change it was asked for;
//! - `well`: behaves, listing nothing.

use cairn_sdk::http::{Client, Method};
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{
    Action, Change, DiffInput, Error, Observed, Outcome, Provider, ProviderInfo, Resource,
    ResourceType, Scope, Secrets, Validation,
};

/// Requests the `flood` mode opens at once.
const FLOOD: usize = 2_000;

/// The size of the state `huge-return` returns: more than the host accepts
/// from one call, little enough to build in a few hundred MiB.
const HUGE_RETURN: usize = 100 << 20;

/// The misbehaving provider.
pub struct Hostile {
    mode: String,
    target: String,
}

impl Provider for Hostile {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "hostile".into(),
            version: "0.0.0".into(),
            description: "misbehaves on purpose".into(),
            resource_types: vec![ResourceType::new("thing", "a thing", &["name"])],
            config_schema: json!({"type": "object"}),
        }
    }

    fn configure(config: Value, _secrets: Secrets, _owner: &str) -> Result<Self, Error> {
        let text = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(Self {
            mode: text("mode"),
            target: text("target"),
        })
    }

    fn validate(resource: &Resource) -> Validation {
        Validation::valid(resource.spec.clone())
    }

    fn list(&self, _scope: &Scope) -> Result<Vec<Observed>, Error> {
        match self.mode.as_str() {
            "spin" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the hostile provider panics on purpose"),
            "big-header-set" => {
                let fields = wasip2::http::types::Fields::new();
                let appended = fields.append("x-filler", &vec![b'v'; 120 << 10]);
                Err(Error::internal(format!(
                    "a 120 KiB header value was taken: {appended:?}"
                )))
            }
            "hold-headers" => {
                use wasip2::http::types::Fields;
                let value = vec![b'v'; 12 << 10];
                let mut held = Vec::new();
                loop {
                    let fields = Fields::new();
                    let _ = fields.append("x-filler", &value);
                    held.push(fields);
                    std::hint::black_box(&held);
                }
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(Vec::new())
            }
            // Reads what a process usually can: the root, the working
            // folder, a system file, its environment and its arguments.
            // Reports what it found, as an error the test reads.
            "read-files" => {
                let found = [
                    ("/", std::fs::read_dir("/").map(|entries| entries.count())),
                    (".", std::fs::read_dir(".").map(|entries| entries.count())),
                    (
                        "/etc/passwd",
                        std::fs::read("/etc/passwd").map(|bytes| bytes.len()),
                    ),
                ]
                .into_iter()
                .map(|(path, result)| match result {
                    Ok(count) => format!("{path}: READ {count}"),
                    Err(error) => format!("{path}: refused ({error})"),
                })
                .chain([
                    format!("environment: {} variable(s)", std::env::vars().count()),
                    format!("arguments: {}", std::env::args().count()),
                ])
                .collect::<Vec<_>>();
                Err(Error::internal(found.join("; ")))
            }
            "exfiltrate" => {
                Client::new(&self.target).send(Method::GET, "/steal", None)?;
                Ok(Vec::new())
            }
            "headers" => {
                let mut client = Client::new(&self.target);
                for index in 0..100 {
                    client = client.with_header(&format!("x-filler-{index}"), "x");
                }
                client.send(Method::GET, "/", None)?;
                Ok(Vec::new())
            }
            "big-request" => {
                let body = vec![b'x'; 17 << 20];
                Client::new(&self.target).send(
                    Method::POST,
                    "/",
                    Some(("application/octet-stream", body)),
                )?;
                Ok(Vec::new())
            }
            "big-stream" => Err(Error::internal(format!(
                "the streamed request ended with {}",
                flood::stream_body(&self.target, 17 << 20)
            ))),
            "stall-bodies" => Err(Error::internal(flood::stall_bodies(&self.target, 16))),
            "flood" => Err(Error::internal(format!(
                "refused {} of {FLOOD}",
                flood::open_at_once(&self.target, FLOOD)
            ))),
            "follow" => {
                let client = Client::new(&self.target);
                let response = client.send(Method::GET, "/", None)?;
                match response.header("location") {
                    Some(location) if (300..400).contains(&response.status) => {
                        Client::new(location).send(Method::GET, "", None)?;
                    }
                    _ => {}
                }
                Ok(Vec::new())
            }
            "recurse" => Ok(vec![Observed {
                type_name: "thing".into(),
                id: "deep".into(),
                state: json!({ "depth": recurse(1) }),
                vouched: false,
            }]),
            "huge-return" => Ok(vec![Observed {
                type_name: "thing".into(),
                id: "huge".into(),
                state: Value::String("x".repeat(HUGE_RETURN)),
                vouched: false,
            }]),
            "log-flood" => {
                for index in 0..1_000_000 {
                    cairn_sdk::log::info("flood", &[("index", &index.to_string())]);
                }
                Ok(Vec::new())
            }
            "log-fields" | "log-fields-flood" => {
                let huge = "x".repeat(1 << 20);
                let records = if self.mode == "log-fields" {
                    200
                } else {
                    2_000
                };
                for index in 0..records {
                    cairn_sdk::log::info(
                        "fields",
                        &[("index", &index.to_string()), ("filler", &huge)],
                    );
                }
                Ok(Vec::new())
            }
            "big-response" => {
                let response = Client::new(&self.target).send(Method::GET, "/big", None)?;
                Err(Error::internal(format!(
                    "read {} bytes",
                    response.body.len()
                )))
            }
            "many-headers" => {
                let response =
                    Client::new(&self.target).send(Method::GET, "/many-headers", None)?;
                Err(Error::internal(format!(
                    "read an answer with {} headers",
                    response.headers.len()
                )))
            }
            "flip-flop" => Ok(vec![Observed {
                type_name: "thing".into(),
                id: "bait".into(),
                state: json!({ "name": "bait", "nonce": wasip2::random::random::get_random_u64() }),
                vouched: false,
            }]),
            "host-header" => {
                Client::new(&self.target)
                    .with_header("host", "metadata.google.internal")
                    .send(Method::GET, "/", None)?;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        _declarations: &cairn_sdk::Declarations,
    ) -> Result<Vec<Change>, Error> {
        if self.mode == "spin-diff" {
            let mut counter: u64 = 0;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        let mut changes: Vec<Change> = inputs
            .into_iter()
            .map(|input| cairn_sdk::diff::compare(input, None))
            .collect();
        if self.mode == "garbage" {
            // A change for a resource nobody asked about, in the place of
            // the one that was.
            for change in &mut changes {
                change.id = "never-asked".into();
                change.action = Action::Delete;
                change.desired = None;
                change.observed = Some(json!({"name": "never-asked"}));
            }
        }
        Ok(changes)
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        match self.mode.as_str() {
            "apply-trap" => std::process::abort(),
            "apply-panic" => panic!("the hostile provider panics in apply on purpose"),
            "apply-send" => {
                let client = Client::new(&self.target);
                return changes
                    .into_iter()
                    .map(|change| {
                        match client.send_json(Method::POST, "/", &json!({ "id": change.id })) {
                            Ok(_) => Outcome::Applied(change.desired),
                            Err(error) => Outcome::Failed(error),
                        }
                    })
                    .collect();
            }
            _ => {}
        }
        changes
            .into_iter()
            .map(|change| Outcome::Applied(change.desired))
            .collect()
    }
}

/// Recurses until the engine's call stack runs out (small frames, so the
/// engine's limit, not the shadow stack in linear memory, is hit first).
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    std::hint::black_box(recurse(depth + 1)) + 1
}

/// Many requests at once, through `wasi:http` directly (the SDK's client
/// sends one at a time).
mod flood {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

    /// A `method` request to `target` (`http://HOST:PORT`) + `path`, no
    /// headers.
    fn request(method: &Method, target: &str, path: &str) -> OutgoingRequest {
        let request = OutgoingRequest::new(Fields::new());
        let _ = request.set_method(method);
        let _ = request.set_scheme(Some(&Scheme::Http));
        let _ = request.set_authority(Some(target.trim_start_matches("http://")));
        let _ = request.set_path_with_query(Some(path));
        request
    }

    /// POSTs `bytes` bytes to `target` (`http://HOST:PORT`) + `/sink`,
    /// streamed in chunks without a declared length; returns what came of
    /// it (the error, or the status).
    pub fn stream_body(target: &str, bytes: usize) -> String {
        let request = request(&Method::Post, target, "/sink");
        let Ok(body) = request.body() else {
            return "no body".into();
        };
        let future = match outgoing_handler::handle(request, None) {
            Ok(future) => future,
            Err(error) => return format!("{error:?}"),
        };
        if let Ok(stream) = body.write() {
            let chunk = vec![b'x'; 4096];
            let mut sent = 0;
            while sent < bytes && stream.blocking_write_and_flush(&chunk).is_ok() {
                sent += chunk.len();
            }
        }
        let _ = OutgoingBody::finish(body, None);
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(response))) => format!("status {}", response.status()),
            Some(Ok(Err(error))) => format!("{error:?}"),
            _ => "no answer".into(),
        }
    }

    /// Starts `count` POSTs to `target` (`http://HOST:PORT`) whose bodies
    /// are never written nor finished, holds them for 2 s, and says so.
    pub fn stall_bodies(target: &str, count: usize) -> String {
        let mut held = Vec::new();
        for _ in 0..count {
            let request = request(&Method::Post, target, "/stalled");
            let Ok(body) = request.body() else {
                continue;
            };
            if let Ok(future) = outgoing_handler::handle(request, None) {
                held.push((body, future));
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        format!("stalled {} request bodies for 2 s", held.len())
    }

    /// Starts `count` GETs of `target` (`http://HOST:PORT`) without
    /// waiting, holds them all open, and returns how many the host refused.
    pub fn open_at_once(target: &str, count: usize) -> usize {
        let mut refused = 0;
        let mut open = Vec::new();
        for _ in 0..count {
            match outgoing_handler::handle(request(&Method::Get, target, "/"), None) {
                Ok(future) => {
                    future.subscribe().block();
                    match future.get() {
                        Some(Ok(Ok(response))) => open.push(response),
                        _ => refused += 1,
                    }
                }
                Err(_) => refused += 1,
            }
        }
        drop(open);
        refused
    }
}

cairn_sdk::export_provider!(Hostile);
