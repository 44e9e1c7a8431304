//! The resource types `zone` and `record`: their specs as written in Git,
//! their validation, and their canonical JSON form (which is also the shape
//! of their observed state).

use crate::canonical;
use cairn_sdk::serde_json::{Value, json};
use cairn_sdk::{Diagnostic, ResourceType, Validation, spec};
use serde::{Deserialize, Serialize};

/// The TTL of a record that does not say; PowerDNS's own default.
pub const DEFAULT_TTL: u32 = 3600;

/// The largest TTL DNS allows (RFC 2181 §8).
const MAX_TTL: u32 = 2_147_483_647;

/// Zone kinds the API accepts for zones Cairn manages (secondaries need
/// primaries to pull from, which this provider does not configure).
const ZONE_KINDS: &[&str] = &["Native", "Master"];

/// Values of `soa_edit_api` PowerDNS knows.
const SOA_EDIT_API: &[&str] = &["DEFAULT", "INCREASE", "EPOCH", "OFF"];

/// A zone as written in Git.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSpec {
    name: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    nameservers: Vec<String>,
    #[serde(default)]
    soa_edit_api: Option<String>,
}

/// A zone in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// The zone's name, absolute and lower case.
    pub name: String,
    /// `Native` or `Master`.
    pub kind: String,
    /// The apex NS records, sorted.
    pub nameservers: Vec<String>,
    /// How PowerDNS bumps the SOA serial on API edits.
    pub soa_edit_api: String,
}

/// A record set as written in Git.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordSpec {
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    #[serde(default)]
    ttl: Option<u32>,
    records: Vec<String>,
}

/// A record set (RRset) in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The owner name, absolute and lower case.
    pub name: String,
    /// The record type, upper case.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The TTL in seconds.
    pub ttl: u32,
    /// The contents in canonical presentation form, sorted, without
    /// duplicates.
    pub records: Vec<String>,
}

impl Record {
    /// The resource id: `NAME/TYPE`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.record_type)
    }
}

/// The resource types, as `describe` reports them.
pub fn resource_types() -> Vec<ResourceType> {
    vec![
        ResourceType::new("zone", "an authoritative zone", &["name"]).schema(json!({
            "type": "object",
            "required": ["name"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "description": "the zone's name, such as example.org."},
                "kind": {"enum": ZONE_KINDS, "default": "Native"},
                "nameservers": {"type": "array", "items": {"type": "string"}, "description": "the apex NS records"},
                "soa_edit_api": {"enum": SOA_EDIT_API, "default": "DEFAULT"}
            }
        })),
        ResourceType::new("record", "one RRset: every record of a name and type", &["name", "type"])
            .schema(json!({
                "type": "object",
                "required": ["name", "type", "records"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string"},
                    "type": {"enum": canonical::SUPPORTED_TYPES},
                    "ttl": {"type": "integer", "minimum": 1, "default": DEFAULT_TTL},
                    "records": {"type": "array", "items": {"type": "string"}, "minItems": 1}
                }
            })),
    ]
}

/// Validates and canonicalizes a zone spec.
pub fn validate_zone(spec: &Value) -> Validation {
    let zone: ZoneSpec = match spec::parse(spec) {
        Ok(zone) => zone,
        Err(diagnostic) => return Validation::invalid(vec![diagnostic]),
    };
    let mut diagnostics = Vec::new();
    let name = canonical::name(&zone.name).unwrap_or_else(|error| {
        diagnostics.push(Diagnostic::error("name", error));
        String::new()
    });
    let kind = zone.kind.unwrap_or_else(|| "Native".into());
    let kind = match ZONE_KINDS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(&kind))
    {
        Some(known) => known.to_string(),
        None => {
            diagnostics.push(
                Diagnostic::error("kind", format!("unknown zone kind `{kind}`"))
                    .with_help(format!("use one of {}", ZONE_KINDS.join(", "))),
            );
            kind
        }
    };
    let soa_edit_api = zone
        .soa_edit_api
        .unwrap_or_else(|| "DEFAULT".into())
        .to_ascii_uppercase();
    if !SOA_EDIT_API.contains(&soa_edit_api.as_str()) {
        diagnostics.push(
            Diagnostic::error(
                "soa_edit_api",
                format!("unknown soa_edit_api `{soa_edit_api}`"),
            )
            .with_help(format!("use one of {}", SOA_EDIT_API.join(", "))),
        );
    }
    let mut nameservers = Vec::new();
    for (index, raw) in zone.nameservers.iter().enumerate() {
        match canonical::name(raw) {
            Ok(host) => nameservers.push(host),
            Err(error) => {
                diagnostics.push(Diagnostic::error(format!("nameservers/{index}"), error))
            }
        }
    }
    nameservers.sort();
    nameservers.dedup();
    if !diagnostics.is_empty() {
        return Validation::invalid(diagnostics);
    }
    let zone = Zone {
        name,
        kind,
        nameservers,
        soa_edit_api,
    };
    Validation::valid(serde_json::to_value(zone).expect("a zone serializes"))
}

/// Validates and canonicalizes a record spec.
pub fn validate_record(spec: &Value) -> Validation {
    let record: RecordSpec = match spec::parse(spec) {
        Ok(record) => record,
        Err(diagnostic) => return Validation::invalid(vec![diagnostic]),
    };
    let mut diagnostics = Vec::new();
    let name = canonical::name(&record.name).unwrap_or_else(|error| {
        diagnostics.push(Diagnostic::error("name", error));
        String::new()
    });
    let record_type = record.record_type.trim().to_ascii_uppercase();
    if !canonical::SUPPORTED_TYPES.contains(&record_type.as_str()) {
        diagnostics.push(
            Diagnostic::error(
                "type",
                format!("the record type `{record_type}` is not supported"),
            )
            .with_help(format!(
                "use one of {}",
                canonical::SUPPORTED_TYPES.join(", ")
            )),
        );
        return Validation::invalid(diagnostics);
    }
    let ttl = record.ttl.unwrap_or(DEFAULT_TTL);
    if ttl == 0 || ttl > MAX_TTL {
        diagnostics.push(Diagnostic::error(
            "ttl",
            format!("the TTL must be between 1 and {MAX_TTL}"),
        ));
    }
    if record.records.is_empty() {
        diagnostics.push(
            Diagnostic::error("records", "an RRset needs at least one record")
                .with_help("remove the resource to delete the RRset"),
        );
    }
    let mut records = Vec::new();
    for (index, raw) in record.records.iter().enumerate() {
        match canonical::content(&record_type, raw) {
            Ok(content) => records.push(content),
            Err(error) => diagnostics.push(Diagnostic::error(format!("records/{index}"), error)),
        }
    }
    if record_type == "CNAME" && records.len() > 1 {
        diagnostics.push(Diagnostic::error(
            "records",
            "a CNAME RRset holds exactly one record",
        ));
    }
    records.sort();
    records.dedup();
    if !diagnostics.is_empty() {
        return Validation::invalid(diagnostics);
    }
    let record = Record {
        name,
        record_type,
        ttl,
        records,
    };
    Validation::valid(serde_json::to_value(record).expect("a record serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_canonical_sorted_and_defaulted() {
        let validation = validate_record(&json!({
            "name": "WWW.example.org", "type": "a", "records": ["192.0.2.2", "192.0.2.1", "192.0.2.2"]
        }));
        assert_eq!(
            validation.canonical.unwrap(),
            json!({"name": "www.example.org.", "type": "A", "ttl": 3600, "records": ["192.0.2.1", "192.0.2.2"]})
        );
    }

    #[test]
    fn every_bad_record_is_reported_with_its_path() {
        let validation = validate_record(&json!({
            "name": "a.example.org.", "type": "A", "records": ["192.0.2.1", "nope", "300.1.1.1"]
        }));
        let paths: Vec<&str> = validation
            .diagnostics
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(paths, ["records/1", "records/2"]);
    }

    #[test]
    fn unknown_keys_and_types_are_errors() {
        let unknown =
            validate_record(&json!({"name": "a.org.", "type": "A", "records": [], "tll": 5}));
        assert_eq!(unknown.diagnostics[0].path, "tll");
        let bad_type =
            validate_record(&json!({"name": "a.org.", "type": "HINFO", "records": ["x"]}));
        assert!(bad_type.diagnostics[0].message.contains("HINFO"));
    }

    #[test]
    fn zones_default_their_kind_and_soa_edit() {
        let validation = validate_zone(
            &json!({"name": "Example.org", "nameservers": ["ns2.example.org", "ns1.example.org."]}),
        );
        assert_eq!(
            validation.canonical.unwrap(),
            json!({"name": "example.org.", "kind": "Native", "nameservers": ["ns1.example.org.", "ns2.example.org."], "soa_edit_api": "DEFAULT"})
        );
    }
}
