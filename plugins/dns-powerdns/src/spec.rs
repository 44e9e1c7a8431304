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

/// Types of which a name has at most one record: a CNAME (RFC 1034 §3.6.2)
/// and a DNAME (RFC 6672 §2.4) redirect a name to exactly one other.
const SINGLETON_TYPES: &[&str] = &["CNAME", "DNAME"];

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
    if SINGLETON_TYPES.contains(&record_type.as_str()) && records.len() > 1 {
        diagnostics.push(Diagnostic::error(
            "records",
            format!("a {record_type} RRset holds exactly one record"),
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

    #[test]
    fn every_documented_type_validates_to_its_canonical_form() {
        let sha256 = "0123456789ABCDEF".repeat(4);
        for (record_type, raw, canonical) in [
            ("SRV", "0 0 0 .".to_string(), "0 0 0 .".to_string()),
            (
                "DNAME",
                "Other.Example.NET".into(),
                "other.example.net.".into(),
            ),
            (
                "SSHFP",
                format!("4 2 {sha256}"),
                format!("4 2 {}", sha256.to_lowercase()),
            ),
            (
                "TLSA",
                format!("3 1 1 {sha256}"),
                format!("3 1 1 {}", sha256.to_lowercase()),
            ),
            (
                "DS",
                format!("2371 13 2 {sha256}"),
                format!("2371 13 2 {}", sha256.to_lowercase()),
            ),
            (
                "NAPTR",
                "10 100 S SIP+D2U \"\" _sip._udp.example.org".into(),
                "10 100 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.org.".into(),
            ),
            (
                "LOC",
                "52 22 23 N 4 53 32 E -2m".into(),
                "52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m".into(),
            ),
            (
                "SVCB",
                "1 . port=853 alpn=dot".into(),
                "1 . alpn=dot port=853".into(),
            ),
            ("HTTPS", "1 . alpn=h3,h2".into(), "1 . alpn=h3,h2".into()),
        ] {
            let validation = validate_record(&json!({
                "name": "x.example.org.", "type": record_type.to_lowercase(), "records": [raw]
            }));
            assert!(
                validation.diagnostics.is_empty(),
                "{record_type}: {:?}",
                validation.diagnostics
            );
            assert_eq!(
                validation.canonical.unwrap()["records"],
                json!([canonical]),
                "{record_type}"
            );
        }
    }

    #[test]
    fn bad_values_of_each_type_are_reported_at_their_record() {
        let sha1 = "2bb183af5f22588179a53b0a98631fad1a292118";
        for (record_type, good, bad, message) in [
            (
                "SSHFP",
                format!("1 1 {sha1}"),
                format!("1 2 {sha1}"),
                "with fingerprint type 2 (SHA-256), the fingerprint is 32 bytes",
            ),
            (
                "TLSA",
                format!("3 1 0 {sha1}"),
                format!("3 1 1 {sha1}"),
                "with matching type 1 (SHA-256), the certificate association data is 32 bytes",
            ),
            (
                "DS",
                format!("60485 5 1 {sha1}"),
                format!("60485 5 2 {sha1}"),
                "with digest type 2 (SHA-256), the digest is 32 bytes",
            ),
            (
                "HTTPS",
                "1 . alpn=h2".into(),
                "1 . alpn=h2 colour=blue".into(),
                "unknown SVCB parameter `colour`",
            ),
            (
                "SVCB",
                "1 . port=53".into(),
                "1 . port=65536".into(),
                "out of range",
            ),
            (
                "LOC",
                "52 N 4 E 0m".into(),
                "52 N 4 E 0m 15m".into(),
                "one digit times a power of ten",
            ),
            (
                "NAPTR",
                "1 1 \"\" \"\" \"\" .".into(),
                "1 1 \"\" \"\"".into(),
                "should have the form",
            ),
        ] {
            let validation = validate_record(&json!({
                "name": "x.example.org.", "type": record_type, "records": [good, bad]
            }));
            assert!(validation.canonical.is_none(), "{record_type}");
            let [diagnostic] = validation.diagnostics.as_slice() else {
                panic!("{record_type}: {:?}", validation.diagnostics);
            };
            assert_eq!(diagnostic.path, "records/1", "{record_type}");
            assert!(
                diagnostic.message.contains(message),
                "{record_type}: {}",
                diagnostic.message
            );
        }
    }

    #[test]
    fn a_dname_rrset_holds_one_record() {
        let validation = validate_record(&json!({
            "name": "old.example.org.", "type": "DNAME", "records": ["a.example.net.", "b.example.net."]
        }));
        assert_eq!(validation.diagnostics[0].path, "records");
        assert!(
            validation.diagnostics[0]
                .message
                .contains("DNAME RRset holds exactly one")
        );
    }
}
