//! `examples/policies/rules/dns_min_ttl.rego` in Rust: no DNS record with
//! a TTL under `min_ttl` (300 s by default) in the zones of
//! `production_zones`. The benchmark runs it beside the Rego rule on the
//! same records, to measure what each costs a plan.

use cairn_policy_sdk::serde_json::{Value, json};
use cairn_policy_sdk::{
    Finding, Policy, PolicyError, PolicyErrorKind, PolicyInfo, PolicyInput, PolicySettings,
};

/// The policy.
pub struct MinTtl;

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|head| head.ends_with('.'))
}

impl Policy for MinTtl {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "ttl".into(),
            version: "0.1.0".into(),
            description: "No TTL under min_ttl in production zones".into(),
            config_schema: json!({
                "type": "object",
                "properties": {
                    "production_zones": {"type": "array", "items": {"type": "string"}},
                    "min_ttl": {"type": "integer", "minimum": 0}
                },
                "required": ["production_zones"],
                "additionalProperties": false
            }),
        }
    }

    fn evaluate(
        settings: &PolicySettings,
        input: &PolicyInput,
    ) -> Result<Vec<Finding>, PolicyError> {
        let zones: Vec<&str> = settings.config["production_zones"]
            .as_array()
            .ok_or_else(|| {
                PolicyError::new(
                    PolicyErrorKind::InvalidConfig,
                    "production_zones must be a list of zones",
                )
            })?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let min_ttl = settings.config["min_ttl"].as_u64().unwrap_or(300);
        let mut found = Vec::new();
        for resource in input.resources.iter().filter(|r| r.type_name == "record") {
            let name = resource.spec["name"].as_str().unwrap_or_default();
            let ttl = resource.spec["ttl"].as_u64().unwrap_or(u64::MAX);
            if ttl < min_ttl && zones.iter().any(|zone| in_zone(name, zone)) {
                found.push(
                    Finding::error(
                        "dns-min-ttl",
                        format!(
                            "{name} has a TTL of {ttl} s, under {min_ttl} s in a production zone"
                        ),
                    )
                    .at(resource.address.clone())
                    .field("ttl"),
                );
            }
        }
        Ok(found)
    }
}

cairn_policy_sdk::export_policy!(MinTtl);
