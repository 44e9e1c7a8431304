//! A Cairn provider for the PowerDNS Authoritative HTTP API.
//!
//! Resource types:
//! - `zone` (id: the zone name): `name`, `kind` (`Native` | `Master`),
//!   `nameservers` (the apex NS records), `soa_edit_api`.
//! - `record` (id: `NAME/TYPE`): one RRset — `name`, `type` (A, AAAA, CNAME,
//!   MX, TXT, SRV, CAA, NS, PTR, DNAME, SSHFP, TLSA, DS, NAPTR, LOC, SVCB,
//!   HTTPS), `ttl` (default 3600) and `records` in presentation format,
//!   compared in the canonical form PowerDNS prints (`canonical`).
//!
//! Config: `url` (the API's base URL) and `server` (default `localhost`);
//! secret: `api_key`. All RRset changes of a zone go to PowerDNS in one
//! PATCH.

mod api;
mod canonical;
mod references;
mod spec;
mod zones;

use api::{Api, RrSetChange};
use cairn_sdk::spec::to_json;
use cairn_sdk::{
    Action, Change, Declarations, DiffInput, Error, ErrorKind, Observed, Outcome, Provider,
    ProviderInfo, Resource, Scope, Secrets, Validation, diff,
};
use serde_json::{Value, json};
use spec::{Record, Zone};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use zones::KnownZones;

/// A zone of which a `list` asks this many record names at most (and not
/// the zone itself) is asked name by name (`rrset_name`) instead of read
/// whole. One name's answer costs the server about a millisecond; a zone
/// of 10,000 RRsets costs it 40-90 ms, and this plugin as long again to
/// read, for a plan of one changed record. A small zone costs at most
/// this many requests instead of one.
const NAMES_ASKED_APART: usize = 4;

/// What a `list` reads of one zone.
struct WantedZone<'a> {
    /// The zone, as found on the server.
    zone: &'a api::ZoneSummary,
    /// The record names asked about that it holds.
    names: Vec<&'a str>,
    /// Whether the zone itself is asked about.
    itself: bool,
}

impl<'a> WantedZone<'a> {
    /// Nothing asked of `zone` yet.
    fn of(zone: &'a api::ZoneSummary) -> Self {
        Self {
            zone,
            names: Vec::new(),
            itself: false,
        }
    }
}

/// The provider: a configured connection to one PowerDNS server.
pub struct PowerDns {
    api: Api,
    /// The owner mark, written as the account of every zone it creates.
    owner: String,
}

impl Provider for PowerDns {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "powerdns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "zones and RRsets of a PowerDNS Authoritative server, through its HTTP API".into(),
            resource_types: spec::resource_types(),
            config_schema: json!({
                "type": "object",
                "required": ["url"],
                "additionalProperties": false,
                "properties": {
                    "url": {"type": "string", "description": "the API's base URL, such as http://127.0.0.1:8081"},
                    "server": {"type": "string", "default": "localhost"}
                }
            }),
        }
    }

    fn configure(config: Value, secrets: Secrets, owner: &str) -> Result<Self, Error> {
        Ok(Self {
            api: Api::new(config, &secrets)?,
            owner: owner.to_string(),
        })
    }

    fn validate(resource: &Resource) -> Validation {
        match resource.type_name.as_str() {
            "zone" => spec::validate_zone(&resource.spec),
            "record" => spec::validate_record(&resource.spec),
            other => Validation::invalid(vec![cairn_sdk::Diagnostic::error(
                "",
                format!("unknown resource type `{other}`"),
            )]),
        }
    }

    fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
        // Record ids are `NAME/TYPE`, zone ids the zone's name.
        let (mut names, mut zone_names) = (BTreeSet::new(), BTreeSet::new());
        for id in &scope.ids {
            match id.split_once('/') {
                Some((name, _)) => names.insert(name.to_ascii_lowercase()),
                None => zone_names.insert(id.to_ascii_lowercase()),
            };
        }
        let zones = KnownZones::find(&self.api, &names, &zone_names)?;
        let mut wanted: BTreeMap<&str, WantedZone> = BTreeMap::new();
        for name in &names {
            if let Some(zone) = zones.holding(name) {
                let entry = wanted
                    .entry(zone.id.as_str())
                    .or_insert_with(|| WantedZone::of(zone));
                entry.names.push(name);
            }
        }
        for name in &zone_names {
            if let Some(zone) = zones.named(name) {
                let entry = wanted
                    .entry(zone.id.as_str())
                    .or_insert_with(|| WantedZone::of(zone));
                entry.itself = scope.wants("zone");
            }
        }
        let of_interest: HashSet<&str> = scope.ids.iter().map(String::as_str).collect();
        let mut observed = Vec::new();
        for WantedZone {
            zone,
            names,
            itself,
        } in wanted.into_values()
        {
            let apart = !itself
                && names.len() <= NAMES_ASKED_APART
                && names.iter().all(|name| zones::askable(name));
            let records = if apart {
                // A few names of a zone that is not itself observed: each
                // is asked for alone.
                let mut records = Vec::new();
                if scope.wants("record") {
                    for name in names {
                        records.extend(self.api.records_named(zone, name)?);
                    }
                }
                records
            } else {
                let contents = self.api.zone(zone)?;
                if itself && of_interest.contains(contents.zone.name.as_str()) {
                    observed.push(Observed {
                        type_name: "zone".into(),
                        id: contents.zone.name.clone(),
                        state: to_json(&contents.zone),
                        // Zones carry the mark as their account; records
                        // carry none, and are not vouched for.
                        vouched: contents.account == self.owner,
                    });
                }
                contents.records
            };
            if scope.wants("record") {
                // Only the records asked about cross back to the host.
                observed.extend(records.iter().filter_map(|record| {
                    let id = record.id();
                    of_interest.contains(id.as_str()).then(|| Observed {
                        type_name: "record".into(),
                        state: to_json(record),
                        id,
                        vouched: false,
                    })
                }));
            }
        }
        Ok(observed)
    }

    fn diff(
        &self,
        inputs: Vec<DiffInput>,
        declarations: &Declarations,
    ) -> Result<Vec<Change>, Error> {
        let types = spec::resource_types();
        let mut changes: Vec<Change> = inputs
            .into_iter()
            .map(|input| {
                let rules = types.iter().find(|t| t.name == input.type_name);
                let mut change = diff::compare(input, rules);
                if change.type_name == "record" {
                    change.summary = record_summary(&change);
                }
                change
            })
            .collect();
        // The server's zones are asked for only when a record's zone is
        // not declared in the commit.
        let undeclared: BTreeSet<String> = changes
            .iter()
            .filter_map(references::desired_name)
            .filter(|name| !references::declared_zone_holds(declarations, name))
            .map(str::to_string)
            .collect();
        if undeclared.is_empty() {
            return Ok(changes);
        }
        let zones = KnownZones::find(&self.api, &undeclared, &BTreeSet::new())?;
        for change in &mut changes {
            let Some(name) = references::desired_name(change) else {
                continue;
            };
            if undeclared.contains(name) && zones.holding(name).is_none() {
                let diagnostic = references::no_zone(name);
                change.diagnostics.push(diagnostic);
            }
        }
        Ok(changes)
    }

    fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
        Apply::new(&self.api, &self.owner, &changes).run()
    }
}

cairn_sdk::export_provider!(PowerDns);

/// `value` read as a `T`, without copying it first.
fn parse<T: serde::de::DeserializeOwned>(value: &Option<Value>) -> Option<T> {
    value.as_ref().and_then(|value| T::deserialize(value).ok())
}

/// `add 192.0.2.11, remove 192.0.2.10, ttl 300 → 600` for record changes.
fn record_summary(change: &Change) -> String {
    let desired: Option<Record> = parse(&change.desired);
    let observed: Option<Record> = parse(&change.observed);
    let contents = |record: &Option<Record>| -> BTreeSet<String> {
        record
            .as_ref()
            .map(|record| record.records.iter().cloned().collect())
            .unwrap_or_default()
    };
    let (new, old) = (contents(&desired), contents(&observed));
    let mut parts: Vec<String> = Vec::new();
    let added: Vec<&String> = new.difference(&old).collect();
    let removed: Vec<&String> = old.difference(&new).collect();
    let list = |items: &[&String]| {
        items
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match change.action {
        Action::NoOp => return "no changes".into(),
        Action::Create => {
            let record = desired.expect("a create has a desired record");
            return format!("create {} ttl {}", list(&added), record.ttl);
        }
        Action::Delete => return format!("delete {}", list(&removed)),
        Action::Update | Action::Replace => {}
    }
    if !added.is_empty() {
        parts.push(format!("add {}", list(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("remove {}", list(&removed)));
    }
    if let (Some(old), Some(new)) = (&observed, &desired)
        && old.ttl != new.ttl
    {
        parts.push(format!("ttl {} → {}", old.ttl, new.ttl));
    }
    parts.join(", ")
}

/// The owner name of a record change: its id is `NAME/TYPE`.
fn record_name(change: &Change) -> &str {
    change.id.split('/').next().unwrap_or_default()
}

/// One `apply` call: zone creations and updates first, then one PATCH per
/// zone for its RRsets, then zone deletions.
struct Apply<'a> {
    api: &'a Api,
    owner: &'a str,
    changes: &'a [Change],
    outcomes: Vec<Option<Outcome>>,
}

impl<'a> Apply<'a> {
    fn new(api: &'a Api, owner: &'a str, changes: &'a [Change]) -> Self {
        Self {
            api,
            owner,
            changes,
            outcomes: vec![None; changes.len()],
        }
    }

    fn run(mut self) -> Vec<Outcome> {
        let mut zones = match self.known_zones() {
            Ok(zones) => zones,
            Err(error) => return vec![Outcome::Failed(error); self.changes.len()],
        };
        self.apply_zones(&mut zones, false);
        self.apply_records(&zones);
        self.apply_zones(&mut zones, true);
        self.outcomes
            .into_iter()
            .map(|outcome| {
                outcome
                    .unwrap_or_else(|| Outcome::Failed(Error::internal("change was not handled")))
            })
            .collect()
    }

    /// The server's zones that the changes name or write records into.
    fn known_zones(&self) -> Result<KnownZones, Error> {
        let (mut names, mut zone_names) = (BTreeSet::new(), BTreeSet::new());
        for change in self.changes {
            match change.type_name.as_str() {
                "zone" => zone_names.insert(change.id.to_ascii_lowercase()),
                _ if change.action == Action::NoOp => false,
                _ => names.insert(record_name(change).to_ascii_lowercase()),
            };
        }
        KnownZones::find(self.api, &names, &zone_names)
    }

    /// Creates and updates zones (`deletes == false`) or deletes them.
    fn apply_zones(&mut self, zones: &mut KnownZones, deletes: bool) {
        for (index, change) in self.changes.iter().enumerate() {
            if change.type_name != "zone" || (change.action == Action::Delete) != deletes {
                continue;
            }
            let outcome = match change.action {
                Action::NoOp => Ok(change.observed.clone()),
                Action::Create | Action::Update | Action::Replace => {
                    self.upsert_zone(change, zones).map(Some)
                }
                Action::Delete => {
                    let id = zones.named(&change.id).map(|zone| zone.id.clone());
                    match id {
                        Some(id) => self.api.delete_zone(&id).map(|()| None),
                        None => Ok(None),
                    }
                }
            };
            self.outcomes[index] = Some(match outcome {
                Ok(state) => Outcome::Applied(state),
                Err(error) => Outcome::Failed(error),
            });
        }
    }

    fn upsert_zone(&self, change: &Change, zones: &mut KnownZones) -> Result<Value, Error> {
        let desired: Zone = parse(&change.desired)
            .ok_or_else(|| Error::internal("a zone change carries no desired zone"))?;
        let existing = match zones.named(&desired.name) {
            // Whose it is matters to a create only: ask, where the zone
            // was found by a search, which does not say.
            Some(zone) if zone.account.is_none() && change.action == Action::Create => {
                self.api.zone_named(&desired.name)?
            }
            known => known.cloned(),
        };
        let summary = match existing {
            // A create that finds the zone: this instance made it (a retry
            // of a create whose answer was lost), or someone else did.
            Some(summary)
                if change.action == Action::Create
                    && summary.account.as_deref() != Some(self.owner) =>
            {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "zone {} exists and this provider instance did not create it (its account is `{}`)",
                        desired.name,
                        summary.account.unwrap_or_default()
                    ),
                ));
            }
            Some(summary) => {
                self.api.update_zone(&summary.id, &desired)?;
                let observed: Option<Zone> = parse(&change.observed);
                let nameservers_differ = observed
                    .map(|observed| observed.nameservers != desired.nameservers)
                    .unwrap_or(true);
                if nameservers_differ {
                    let ns = Record {
                        name: desired.name.clone(),
                        record_type: "NS".into(),
                        ttl: spec::DEFAULT_TTL,
                        records: desired.nameservers.clone(),
                    };
                    let patch = if ns.records.is_empty() {
                        RrSetChange::delete(&ns.name, "NS")
                    } else {
                        RrSetChange::replace(&ns)
                    };
                    self.api.patch_rrsets(&summary.id, vec![patch])?;
                }
                summary
            }
            None => {
                // The answer holds the zone as made, and the id the API
                // gave it.
                let (summary, created) = self.api.create_zone(&desired, self.owner)?;
                zones.insert(summary);
                return Ok(to_json(&created));
            }
        };
        Ok(to_json(&self.api.zone(&summary)?.zone))
    }

    /// One PATCH per zone carrying all of its RRset changes.
    fn apply_records(&mut self, zones: &KnownZones) {
        let mut by_zone: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, change) in self.changes.iter().enumerate() {
            if change.type_name != "record" {
                continue;
            }
            if change.action == Action::NoOp {
                self.outcomes[index] = Some(Outcome::Applied(change.observed.clone()));
                continue;
            }
            let name = record_name(change).to_ascii_lowercase();
            match zones.holding(&name) {
                Some(zone) => by_zone.entry(zone.id.clone()).or_default().push(index),
                // Its zone is gone, and the record with it.
                None if change.action == Action::Delete => {
                    self.outcomes[index] = Some(Outcome::Applied(None));
                }
                None => {
                    let reason = match zones.declared_holding(&name) {
                        Some(zone) => format!(
                            "its zone {zone} is not on the server: the zone's own change did not succeed"
                        ),
                        None => format!(
                            "no zone on the server holds {name}: declare its zone as a `zone` resource or create it first"
                        ),
                    };
                    self.outcomes[index] =
                        Some(Outcome::Failed(Error::new(ErrorKind::NotFound, reason)));
                }
            }
        }
        for (zone_id, indexes) in by_zone {
            let mut patch = Vec::new();
            let mut states = Vec::new();
            for &index in &indexes {
                let change = &self.changes[index];
                match change.action {
                    Action::Delete => {
                        let (name, record_type) =
                            change.id.rsplit_once('/').unwrap_or((&change.id, ""));
                        patch.push(RrSetChange::delete(name, record_type));
                        states.push(None);
                    }
                    _ => match parse::<Record>(&change.desired) {
                        Some(record) => {
                            patch.push(RrSetChange::replace(&record));
                            states.push(change.desired.clone());
                        }
                        None => {
                            self.outcomes[index] = Some(Outcome::Failed(Error::internal(
                                "a record change carries no desired record",
                            )));
                            states.push(None);
                        }
                    },
                }
            }
            // Deletes first: replacing a CNAME by an A record of the same
            // name must remove the CNAME before the A can exist.
            patch.sort_by_key(|change| !change.is_delete());
            let result = self.api.patch_rrsets(&zone_id, patch);
            for (&index, state) in indexes.iter().zip(states) {
                if self.outcomes[index].is_some() {
                    continue;
                }
                self.outcomes[index] = Some(match &result {
                    Ok(()) => Outcome::Applied(state),
                    Err(error) => Outcome::Failed(error.clone()),
                });
            }
        }
    }
}
