//! {{name}}: a Cairn provider of key/value entries kept by an HTTP service
//! at `{url}/entries/{key}`, written by `cairn plugin new`.
//!
//! It follows every rule of the contract (`cairn:provider@{{contract}}`);
//! replace the service's calls with your own server's and keep the rules:
//! - `validate` returns the canonical spec (the key lower-cased), which
//!   `list` reads back in the same shape, so an unchanged repository plans
//!   nothing and an applied change converges;
//! - the id is the identity field (`key`), built by the host;
//! - `apply` is idempotent: a delete of an entry already gone succeeds;
//! - errors carry their kind (`unauthorized`, `unavailable`, `conflict`…),
//!   which the SDK's HTTP client derives from the status;
//! - every entry it writes carries the owner mark `configure` receives, and
//!   `list` vouches for the entries that bear it;
//! - the token is a secret: it goes into a header, never into a state or
//!   a log.

use cairn_sdk::http::{Client, Method};
use cairn_sdk::serde::{Deserialize, Serialize};
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{
    Action, Change, Error, ErrorKind, Observed, Outcome, Provider, ProviderInfo, Resource,
    ResourceType, Scope, Secrets, Validation, log, spec,
};

/// The resource type this provider manages.
const ENTRY: &str = "entry";

/// The operator's `config` table.
#[derive(Deserialize)]
#[serde(crate = "cairn_sdk::serde", deny_unknown_fields)]
struct Config {
    /// The service's root URL.
    url: String,
}

/// An entry as Git declares it and as `list` observes it.
#[derive(Serialize, Deserialize)]
#[serde(crate = "cairn_sdk::serde", deny_unknown_fields)]
struct Entry {
    key: String,
    value: String,
}

/// An entry as the service stores it: with the mark of who made it.
#[derive(Serialize, Deserialize)]
#[serde(crate = "cairn_sdk::serde")]
struct Stored {
    key: String,
    value: String,
    #[serde(default)]
    made_by: Option<String>,
}

/// A configured provider.
struct Entries {
    client: Client,
    owner: String,
}

impl Provider for Entries {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "key/value entries of an HTTP service".into(),
            resource_types: vec![
                ResourceType::new(ENTRY, "one key and its value", &["key"]).schema(json!({
                    "type": "object",
                    "properties": {
                        "key": {"type": "string", "description": "the entry's key, any case; compared lower-cased"},
                        "value": {"type": "string", "description": "what the entry holds"}
                    },
                    "required": ["key", "value"],
                    "additionalProperties": false
                })),
            ],
            config_schema: json!({
                "type": "object",
                "properties": {"url": {"type": "string", "description": "the service's root URL"}},
                "required": ["url"],
                "additionalProperties": false
            }),
        }
    }

    fn configure(config: Value, secrets: Secrets, owner: &str) -> Result<Self, Error> {
        let config: Config = spec::parse(&config)
            .map_err(|d| Error::invalid(format!("config {}: {}", d.path, d.message)))?;
        let token = secrets.require("token")?;
        let client = Client::new(config.url.trim_end_matches('/'))
            .with_header("authorization", &format!("Bearer {token}"));
        Ok(Self {
            client,
            owner: owner.to_string(),
        })
    }

    fn validate(resource: &Resource) -> Validation {
        if resource.type_name != ENTRY {
            return Validation::invalid(vec![cairn_sdk::Diagnostic::error(
                "",
                format!("unknown resource type `{}`: this provider has `{ENTRY}`", resource.type_name),
            )]);
        }
        match spec::parse::<Entry>(&resource.spec) {
            Ok(entry) if entry.key.trim().is_empty() => {
                Validation::invalid(vec![cairn_sdk::Diagnostic::error("key", "the key is empty")
                    .with_help("give the entry a key such as \"greeting\"")])
            }
            Ok(entry) => Validation::valid(spec::to_json(&Entry {
                key: entry.key.to_lowercase(),
                value: entry.value,
            })),
            Err(diagnostic) => Validation::invalid(vec![diagnostic]),
        }
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        if !scope.wants(ENTRY) {
            return Ok(Vec::new());
        }
        let stored: Vec<Stored> = self.client.get_json("/entries")?;
        log::debug("listed the entries", &[("count", &stored.len().to_string())]);
        Ok(stored
            .into_iter()
            .map(|entry| {
                let vouched = entry.made_by.as_deref() == Some(self.owner.as_str());
                let state = spec::to_json(&Entry {
                    key: entry.key.clone(),
                    value: entry.value,
                });
                Observed {
                    vouched,
                    ..Observed::new(ENTRY, entry.key, state)
                }
            })
            .collect())
    }

    // `diff` keeps the SDK's default: a field-by-field comparison of the
    // canonical spec with the observed state.

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        changes
            .into_iter()
            .map(|change| match self.apply_one(&change) {
                Ok(state) => Outcome::Applied(state),
                Err(error) => Outcome::Failed(error),
            })
            .collect()
    }
}

impl Entries {
    /// Makes one change; returns the entry's new state.
    fn apply_one(&self, change: &Change) -> Result<Option<Value>, Error> {
        let path = format!("/entries/{}", change.id);
        match change.action {
            Action::NoOp => Ok(change.observed.clone()),
            // Idempotent: an entry already gone is deleted.
            Action::Delete => {
                let response = self.client.send(Method::DELETE, &path, None)?;
                if response.status != 404 {
                    response.error_for_status(&format!("DELETE {path}"))?;
                }
                Ok(None)
            }
            Action::Create | Action::Update | Action::Replace => {
                let desired: Entry = spec::required_state(&change.desired)?;
                if change.action == Action::Create {
                    self.refuse_someone_elses(&path)?;
                }
                let stored = Stored {
                    key: desired.key,
                    value: desired.value,
                    made_by: Some(self.owner.clone()),
                };
                self.client.send_json(Method::PUT, &path, &stored)?;
                Ok(Some(spec::to_json(&Entry {
                    key: stored.key,
                    value: stored.value,
                })))
            }
        }
    }

    /// A create finds an entry made by someone else: a conflict, and
    /// nothing is made.
    fn refuse_someone_elses(&self, path: &str) -> Result<(), Error> {
        let response = self.client.send(Method::GET, path, None)?;
        if response.status == 404 {
            return Ok(());
        }
        let existing: Stored = response.error_for_status(&format!("GET {path}"))?.json()?;
        if existing.made_by.as_deref() == Some(self.owner.as_str()) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Conflict,
            format!("the entry `{}` exists and this provider did not make it", existing.key),
        ))
    }
}

cairn_sdk::export_provider!(Entries);
