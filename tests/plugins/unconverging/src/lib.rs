//! A provider that does not converge, as providers do by mistake: it keeps
//! `thing`s on a small HTTP server (the test's, at `url`) exactly as it
//! applies them, but reads them back shaped differently — `ttl` as a
//! string where the spec has a number, and `comment: null` where the spec
//! omits it. Its `diff` is the SDK's plain comparison, so a thing with a
//! `ttl` never compares equal after an apply (the convergence check's
//! case), and a thing without one differs only by a `null` (which the host
//! treats as no difference).
//!
//! The server's protocol: `GET /things` answers a JSON object of every
//! thing by name; `PUT /things/NAME` stores the JSON body; `DELETE
//! /things/NAME` removes it.

use cairn_sdk::http::{Client, Method};
use cairn_sdk::serde_json::{Map, Value, json};
use cairn_sdk::{
    Action, Change, Error, Observed, Outcome, Provider, ProviderInfo, Resource, ResourceType,
    Scope, Secrets, Validation,
};

/// The one resource type.
const THING: &str = "thing";

/// The provider, talking to the server at its `url`.
pub struct Unconverging {
    client: Client,
}

impl Provider for Unconverging {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "unconverging".into(),
            version: "0.0.0".into(),
            description: "reads back what it applies shaped differently".into(),
            resource_types: vec![ResourceType::new(THING, "a thing", &["name"])],
            config_schema: json!({
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string"}}
            }),
        }
    }

    fn configure(config: Value, _secrets: Secrets, _owner: &str) -> Result<Self, Error> {
        let url = config
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid("`url` must name the things' server"))?;
        Ok(Self {
            client: Client::new(url),
        })
    }

    fn validate(resource: &Resource) -> Validation {
        Validation::valid(resource.spec.clone())
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        if !scope.wants(THING) {
            return Ok(Vec::new());
        }
        let things: Map<String, Value> = self.client.get_json("/things")?;
        Ok(things
            .into_iter()
            .filter(|(name, _)| scope.ids.contains(name))
            .map(|(name, stored)| Observed {
                type_name: THING.into(),
                id: name,
                state: read_back(stored),
                vouched: false,
            })
            .collect())
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        changes
            .into_iter()
            .map(|change| {
                let path = format!("/things/{}", change.id);
                let sent = match (&change.action, &change.desired) {
                    (Action::NoOp, _) => Ok(()),
                    (Action::Delete, _) => self
                        .client
                        .send(Method::DELETE, &path, None)
                        .and_then(|response| response.error_for_status("DELETE").map(drop)),
                    (_, Some(desired)) => {
                        self.client.send_json(Method::PUT, &path, desired).map(drop)
                    }
                    (_, None) => Err(Error::invalid("a change that makes a thing needs its spec")),
                };
                match sent {
                    // What it applied, as it applied it: its own read-back
                    // is what differs.
                    Ok(()) => Outcome::Applied(change.desired),
                    Err(error) => Outcome::Failed(error),
                }
            })
            .collect()
    }
}

/// A stored thing as this provider reads it back: a numeric `ttl` as a
/// string, and `comment` null when it was not set.
fn read_back(mut stored: Value) -> Value {
    if let Some(fields) = stored.as_object_mut() {
        if let Some(ttl) = fields.get("ttl").and_then(Value::as_i64) {
            fields.insert("ttl".into(), Value::String(ttl.to_string()));
        }
        fields.entry("comment").or_insert(Value::Null);
    }
    stored
}

cairn_sdk::export_provider!(Unconverging);
