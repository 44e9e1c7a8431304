//! The parts of the PowerDNS Authoritative HTTP API this provider uses:
//! zones and their RRsets (`/api/v1/servers/{server}/zones`).

use crate::canonical;
use crate::spec::{Record, Zone};
use cairn_sdk::http::{Client, Method};
use cairn_sdk::{Error, Secrets};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The operator's configuration of a provider instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The API's base URL, such as `http://127.0.0.1:8081`.
    pub url: String,
    /// The server id in the API's paths; PowerDNS calls its own `localhost`.
    #[serde(default = "default_server")]
    pub server: String,
}

fn default_server() -> String {
    "localhost".into()
}

/// A connection to one PowerDNS server's API.
pub struct Api {
    client: Client,
    zones_path: String,
}

/// A zone as listed by `GET /zones`.
#[derive(Debug, Clone, Deserialize)]
pub struct ZoneSummary {
    /// The zone id used in URLs (the name, with special characters escaped).
    pub id: String,
    /// The zone's name, absolute.
    pub name: String,
    /// The zone's account: the owner mark of the provider instance that
    /// created it, or whatever else its creator wrote (often nothing).
    #[serde(default)]
    pub account: String,
}

/// A zone as returned by `GET /zones/{id}`.
#[derive(Debug, Deserialize)]
struct ZoneDetail {
    name: String,
    kind: String,
    #[serde(default)]
    soa_edit_api: String,
    #[serde(default)]
    rrsets: Vec<RrSet>,
}

#[derive(Debug, Deserialize)]
struct RrSet {
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    ttl: u32,
    records: Vec<RecordContent>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordContent {
    content: String,
    #[serde(default)]
    disabled: bool,
}

/// One RRset change of a `PATCH /zones/{id}`.
#[derive(Debug, Serialize)]
pub struct RrSetChange {
    name: String,
    #[serde(rename = "type")]
    record_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    changetype: &'static str,
    records: Vec<RecordContent>,
}

impl RrSetChange {
    /// Sets the RRset to exactly `record`.
    pub fn replace(record: &Record) -> Self {
        Self {
            name: record.name.clone(),
            record_type: record.record_type.clone(),
            ttl: Some(record.ttl),
            changetype: "REPLACE",
            records: record
                .records
                .iter()
                .map(|content| RecordContent {
                    content: content.clone(),
                    disabled: false,
                })
                .collect(),
        }
    }

    /// Whether the change removes an RRset.
    pub fn is_delete(&self) -> bool {
        self.changetype == "DELETE"
    }

    /// Removes the RRset `name`/`record_type`.
    pub fn delete(name: &str, record_type: &str) -> Self {
        Self {
            name: name.to_string(),
            record_type: record_type.to_string(),
            ttl: None,
            changetype: "DELETE",
            records: Vec::new(),
        }
    }
}

/// A zone's canonical state and the canonical state of its RRsets.
pub struct ZoneContents {
    /// The zone itself.
    pub zone: Zone,
    /// Every RRset but the SOA.
    pub records: Vec<Record>,
}

impl Api {
    /// Connects with the operator's config and the `api_key` secret.
    pub fn new(config: Value, secrets: &Secrets) -> Result<Self, Error> {
        let config: Config = cairn_sdk::spec::parse(&config).map_err(|diagnostic| {
            let at = if diagnostic.path.is_empty() {
                String::new()
            } else {
                format!(" (at `{}`)", diagnostic.path)
            };
            Error::invalid(format!("bad config{at}: {}", diagnostic.message))
        })?;
        let api_key = secrets.require("api_key")?;
        let client = Client::new(&config.url).with_header("x-api-key", api_key);
        Ok(Self {
            client,
            zones_path: format!("/api/v1/servers/{}/zones", config.server),
        })
    }

    /// Every zone on the server.
    pub fn zones(&self) -> Result<Vec<ZoneSummary>, Error> {
        self.client
            .get_json(&self.zones_path)
            .map_err(|error| error.context("listing zones"))
    }

    /// A zone with all its RRsets, in canonical form.
    pub fn zone(&self, zone: &ZoneSummary) -> Result<ZoneContents, Error> {
        let detail: ZoneDetail = self
            .client
            .get_json(&self.zone_path(&zone.id))
            .map_err(|error| error.context(format!("reading zone {}", zone.name)))?;
        let zone_name = canonical::name(&detail.name).map_err(Error::internal)?;
        let mut nameservers = Vec::new();
        let mut records = Vec::new();
        for rrset in detail.rrsets {
            if rrset.record_type == "SOA" {
                continue;
            }
            let record = canonical_rrset(rrset)?;
            if record.record_type == "NS" && record.name == zone_name {
                nameservers = record.records.clone();
            }
            if !record.records.is_empty() {
                records.push(record);
            }
        }
        Ok(ZoneContents {
            zone: Zone {
                name: zone_name,
                kind: detail.kind,
                nameservers,
                soa_edit_api: if detail.soa_edit_api.is_empty() {
                    "DEFAULT".into()
                } else {
                    detail.soa_edit_api.to_ascii_uppercase()
                },
            },
            records,
        })
    }

    /// Creates a zone, its account the provider instance's owner mark. A
    /// zone of that name that appeared since the plan is a conflict:
    /// someone else made it, and it is not Cairn's to take.
    pub fn create_zone(&self, zone: &Zone, owner: &str) -> Result<(), Error> {
        let body = serde_json::json!({
            "name": zone.name,
            "kind": zone.kind,
            "nameservers": zone.nameservers,
            "soa_edit_api": zone.soa_edit_api,
            "account": owner,
        });
        self.client
            .send_json(Method::POST, &self.zones_path, &body)
            .map(drop)
            .map_err(|error| error.context(format!("creating zone {}", zone.name)))
    }

    /// Sets a zone's kind and SOA-EDIT-API.
    pub fn update_zone(&self, id: &str, zone: &Zone) -> Result<(), Error> {
        let body = serde_json::json!({"kind": zone.kind, "soa_edit_api": zone.soa_edit_api});
        self.client
            .send_json(Method::PUT, &self.zone_path(id), &body)
            .map(drop)
            .map_err(|error| error.context(format!("updating zone {}", zone.name)))
    }

    /// Deletes a zone; a zone already gone counts as deleted.
    pub fn delete_zone(&self, id: &str) -> Result<(), Error> {
        let response = self
            .client
            .send(Method::DELETE, &self.zone_path(id), None)?;
        if response.status == 404 {
            return Ok(());
        }
        response
            .error_for_status(&format!("deleting zone {id}"))
            .map(drop)
    }

    /// Applies RRset changes to one zone in a single PATCH.
    pub fn patch_rrsets(&self, id: &str, changes: Vec<RrSetChange>) -> Result<(), Error> {
        let body = serde_json::json!({ "rrsets": changes });
        self.client
            .send_json(Method::PATCH, &self.zone_path(id), &body)
            .map(drop)
            .map_err(|error| error.context(format!("changing RRsets of zone {id}")))
    }

    fn zone_path(&self, id: &str) -> String {
        format!("{}/{}", self.zones_path, id)
    }
}

/// An RRset as PowerDNS returns it, in canonical form; disabled records
/// count as absent.
fn canonical_rrset(rrset: RrSet) -> Result<Record, Error> {
    // Names on the server may hold escapes (`My\032Printer`) that Git input
    // may not; they are compared lower-cased as they are.
    let name = canonical::name(&rrset.name).unwrap_or_else(|_| rrset.name.to_ascii_lowercase());
    let record_type = rrset.record_type.to_ascii_uppercase();
    let mut records: Vec<String> = rrset
        .records
        .into_iter()
        .filter(|record| !record.disabled)
        .map(|record| canonical::content(&record_type, &record.content).unwrap_or(record.content))
        .collect();
    records.sort();
    records.dedup();
    Ok(Record {
        name,
        record_type,
        ttl: rrset.ttl,
        records,
    })
}

/// The zone, among `zones`, that holds `name`: the longest suffix match.
pub fn zone_of<'z>(name: &str, zones: &'z [ZoneSummary]) -> Option<&'z ZoneSummary> {
    zones
        .iter()
        .filter(|zone| {
            let zone_name = zone.name.to_ascii_lowercase();
            name == zone_name || name.ends_with(&format!(".{zone_name}"))
        })
        .max_by_key(|zone| zone.name.len())
}
