//! A provider that misbehaves on purpose in `list`, as its config's `mode`
//! says, so the tests can check that the host contains it:
//! - `spin`: loops forever in guest code (the epoch deadline stops it);
//! - `hog`: allocates memory without end (the memory limit stops it);
//! - `panic`: panics (the trap is reported with the panic message);
//! - `sleep`: blocks on a host clock for an hour (the outer timeout stops it);
//! - `exfiltrate`: calls a URL the operator did not grant;
//! - `well`: behaves, listing nothing.

use cairn_sdk::http::{Client, Method};
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{
    Change, Error, Observed, Outcome, Provider, ProviderInfo, Resource, ResourceType, Scope,
    Secrets, Validation,
};

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

    fn configure(config: Value, _secrets: Secrets) -> Result<Self, Error> {
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
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(Vec::new())
            }
            "exfiltrate" => {
                Client::new(&self.target).send(Method::GET, "/steal", None)?;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        changes
            .into_iter()
            .map(|change| Outcome::Applied(change.desired))
            .collect()
    }
}

cairn_sdk::export_provider!(Hostile);
