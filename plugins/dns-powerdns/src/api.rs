//! The parts of the PowerDNS Authoritative HTTP API this provider uses:
//! zones and their RRsets (`/api/v1/servers/{server}/zones`), and the
//! search for zones by name (`/api/v1/servers/{server}/search-data`).
//! A zone is read whole, or cut to one name's RRsets (`rrset_name`).

use crate::canonical;
use crate::spec::{Record, Zone};
use cairn_sdk::http::{Client, Method};
use cairn_sdk::{Error, Secrets};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many times a write PowerDNS failed with a 5xx is sent again. Its
/// SQLite backend refuses a write that meets another writer's transaction
/// at once, without waiting, and answers a bare 500 (its log says
/// "database is locked"), so the writes of many tenants on one server
/// collide: 470 of 1,000 tenants' PATCHes did in one fleet. The writes
/// sent again are idempotent (RRsets replaced or deleted, a zone's
/// settings set), so one that did take effect is harmless to repeat.
/// Without this, each collision failed its whole run, retried only after
/// the daemon's backoff.
const WRITE_RETRIES: u32 = 5;

/// The first wait before a failed write is sent again, doubled each time
/// (25 to 400 ms, 775 ms in all: well inside a call's deadline), plus up
/// to as much again at random so that colliding writers part.
const WRITE_FIRST_WAIT: Duration = Duration::from_millis(25);

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
    search_path: String,
}

/// A zone as listed by `GET /zones`.
#[derive(Debug, Clone, Deserialize)]
pub struct ZoneSummary {
    /// The zone id used in URLs (the name, with special characters escaped).
    pub id: String,
    /// The zone's name, absolute.
    pub name: String,
    /// The zone's account: the owner mark of the provider instance that
    /// created it, or whatever else its creator wrote (often nothing);
    /// `None` where the answer did not say (a search's).
    #[serde(default)]
    pub account: Option<String>,
}

/// One answer of `GET /search-data`; only zones are asked for.
#[derive(Debug, Deserialize)]
struct SearchResult {
    object_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    zone_id: String,
}

/// A zone as returned by `GET /zones/{id}` and by its creation.
#[derive(Debug, Deserialize)]
struct ZoneDetail {
    #[serde(default)]
    id: String,
    #[serde(default)]
    account: String,
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
    /// The zone's account (see [`ZoneSummary::account`]).
    pub account: String,
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
            search_path: format!("/api/v1/servers/{}/search-data", config.server),
        })
    }

    /// Every zone on the server (without their DNSSEC state, which costs
    /// the server a query per zone and this provider does not read).
    pub fn zones(&self) -> Result<Vec<ZoneSummary>, Error> {
        self.client
            .get_json(&format!("{}?dnssec=false", self.zones_path))
            .map_err(|error| error.context("listing zones"))
    }

    /// The zone named `name` (absolute, and of what a host name holds, so
    /// that it needs no escaping in the query), if the server has it.
    pub fn zone_named(&self, name: &str) -> Result<Option<ZoneSummary>, Error> {
        let zones: Vec<ZoneSummary> = self
            .client
            .get_json(&format!("{}?zone={name}&dnssec=false", self.zones_path))
            .map_err(|error| error.context(format!("looking up zone {name}")))?;
        Ok(zones
            .into_iter()
            .find(|zone| zone.name.eq_ignore_ascii_case(name)))
    }

    /// The zones named `name` (as [`Api::zone_named`]) or ending in it,
    /// found by the server's search: those at and below it, and any whose
    /// name merely ends in the same letters. `None` when there are `max`
    /// or more, as the answer may then be cut. A search's answer does not
    /// say their accounts.
    pub fn zones_at_and_below(
        &self,
        name: &str,
        max: usize,
    ) -> Result<Option<Vec<ZoneSummary>>, Error> {
        // The search matches names without their final dot.
        let pattern = format!("*{}", name.trim_end_matches('.'));
        let found: Vec<SearchResult> = self
            .client
            .get_json(&format!(
                "{}?q={pattern}&object_type=zone&max={max}",
                self.search_path
            ))
            .map_err(|error| error.context(format!("searching the zones below {name}")))?;
        if found.len() >= max {
            return Ok(None);
        }
        Ok(Some(
            found
                .into_iter()
                .filter(|result| result.object_type == "zone")
                .map(|result| ZoneSummary {
                    id: result.zone_id,
                    name: result.name,
                    account: None,
                })
                .collect(),
        ))
    }

    /// A zone with all its RRsets, in canonical form.
    pub fn zone(&self, zone: &ZoneSummary) -> Result<ZoneContents, Error> {
        let detail: ZoneDetail = self
            .client
            .get_json(&self.zone_path(&zone.id))
            .map_err(|error| error.context(format!("reading zone {}", zone.name)))?;
        contents(detail)
    }

    /// The RRsets at `name` in a zone (absolute, lower case, and of what a
    /// host name holds, as [`crate::zones::askable`] checks, so that it
    /// needs no escaping in the query), in canonical form: the zone's
    /// answer cut to that name by the server (`rrset_name`), a few hundred
    /// bytes where the whole zone may be megabytes.
    pub fn records_named(&self, zone: &ZoneSummary, name: &str) -> Result<Vec<Record>, Error> {
        let detail: ZoneDetail = self
            .client
            .get_json(&format!("{}?rrset_name={name}", self.zone_path(&zone.id)))
            .map_err(|error| error.context(format!("reading {name} in zone {}", zone.name)))?;
        // A server that does not know the parameter answers the whole zone:
        // only the name's RRsets are kept.
        Ok(contents(detail)?
            .records
            .into_iter()
            .filter(|record| record.name == name)
            .collect())
    }

    /// Creates a zone, its account the provider instance's owner mark, and
    /// returns it as the server made it (its answer holds the zone). A
    /// zone of that name that appeared since the plan is a conflict:
    /// someone else made it, and it is not Cairn's to take.
    pub fn create_zone(&self, zone: &Zone, owner: &str) -> Result<(ZoneSummary, Zone), Error> {
        let body = serde_json::json!({
            "name": zone.name,
            "kind": zone.kind,
            "nameservers": zone.nameservers,
            "soa_edit_api": zone.soa_edit_api,
            "account": owner,
        });
        let created: ZoneDetail = self
            .client
            .send_json(Method::POST, &self.zones_path, &body)
            .and_then(|response| response.json())
            .map_err(|error| error.context(format!("creating zone {}", zone.name)))?;
        if created.id.is_empty() {
            return Err(Error::internal(format!(
                "zone {} was created but the server's answer has no id",
                zone.name
            )));
        }
        let summary = ZoneSummary {
            id: created.id.clone(),
            name: created.name.clone(),
            account: Some(created.account.clone()),
        };
        Ok((summary, contents(created)?.zone))
    }

    /// Sends an idempotent write, again after a short wait while the
    /// server fails it with a 5xx (see [`WRITE_RETRIES`]).
    fn write(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
        what: &str,
    ) -> Result<(), Error> {
        let mut wait = WRITE_FIRST_WAIT;
        for attempt in 0..=WRITE_RETRIES {
            let response = self.client.request_json(method, path, Some(body))?;
            let transient = matches!(response.status, 500 | 502 | 503 | 504);
            if transient && attempt < WRITE_RETRIES {
                cairn_sdk::log::debug(
                    "PowerDNS failed a write (another writer holding its database, mostly); sending it again",
                    &[("request", what), ("status", &response.status.to_string())],
                );
                std::thread::sleep(wait + jitter(wait));
                wait *= 2;
                continue;
            }
            return response
                .error_for_status(&format!("{method} {path}"))
                .map(drop)
                .map_err(|error| error.context(what));
        }
        unreachable!("the last attempt returns")
    }

    /// Sets a zone's kind and SOA-EDIT-API.
    pub fn update_zone(&self, id: &str, zone: &Zone) -> Result<(), Error> {
        let body = serde_json::json!({"kind": zone.kind, "soa_edit_api": zone.soa_edit_api});
        self.write(
            Method::PUT,
            &self.zone_path(id),
            &body,
            &format!("updating zone {}", zone.name),
        )
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
        // Written straight from the changes: ten thousand RRsets built as
        // JSON values first would be a hundred thousand allocations more.
        #[derive(Serialize)]
        struct Patch<'a> {
            rrsets: &'a [RrSetChange],
        }
        let body = Patch { rrsets: &changes };
        self.write(
            Method::PATCH,
            &self.zone_path(id),
            &body,
            &format!("changing RRsets of zone {id}"),
        )
    }

    fn zone_path(&self, id: &str) -> String {
        format!("{}/{}", self.zones_path, id)
    }
}

/// A zone's canonical state and RRsets, from the server's answer.
fn contents(detail: ZoneDetail) -> Result<ZoneContents, Error> {
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
        account: detail.account,
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

/// Up to `wait` more, at random enough that writers refused together are
/// not sent again together.
fn jitter(wait: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.subsec_nanos())
        .unwrap_or_default();
    let millis = wait.as_millis().max(1) as u32;
    Duration::from_millis(u64::from(nanos % millis))
}
