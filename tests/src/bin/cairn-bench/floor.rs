//! The floors of the DNS measurements: what PowerDNS itself needs for the
//! same work, asked directly by a minimal client on one kept-alive
//! connection, in the same run as Cairn and octoDNS.
//!
//! - A no-change plan must at least read the zone: one GET of it, its
//!   body read whole.
//! - Creating N records: POST the empty zone, then PATCH its RRsets, in
//!   one PATCH and, into another zone, [`PATCH_BATCH`] at a time one after
//!   the other; the faster of the two is the floor.
//! - A push of one changed record must at least read the commit and PATCH
//!   one RRset ([`push_one_record`]). (Both are measured:
//!   which is faster depends on the server. On the test server one PATCH
//!   of 10,000 took 0.164 s with the POST, five of 2,000 took 0.246 s.)

use cairn_tests::pdns::{API_KEY, Pdns};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// RRsets per PATCH of the create floor's second way.
pub const PATCH_BATCH: usize = 2_000;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One client, one connection, kept alive between requests.
struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn new(pdns: &Pdns) -> Self {
        Self {
            agent: cairn_tests::http_agent(REQUEST_TIMEOUT),
            base: format!("{}/api/v1/servers/localhost/zones", pdns.url()),
        }
    }

    /// Sends a request and reads its answer whole; fails on a non-2xx.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("X-API-Key", API_KEY)
            .header("content-type", "application/json")
            .body(body.map_or_else(String::new, Value::to_string))?;
        let mut response = self.agent.run(request)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "{method} {path}: {status}: {text}"
        );
        Ok(text)
    }
}

/// The time of one GET of `zone`, its body read whole.
pub fn read_zone(pdns: &Pdns, zone: &str) -> anyhow::Result<Duration> {
    let client = Client::new(pdns);
    let started = Instant::now();
    let text = client.send("GET", &format!("/{zone}"), None)?;
    let elapsed = started.elapsed();
    anyhow::ensure!(text.contains("rrsets"), "the zone's answer has no RRsets");
    Ok(elapsed)
}

/// The time to create `zone` and fill it with `records` (name, address)
/// A records, TTL 300, in PATCHes of at most `batch` RRsets.
pub fn create_zone(
    pdns: &Pdns,
    zone: &str,
    records: &[(String, String)],
    batch: usize,
) -> anyhow::Result<Duration> {
    let client = Client::new(pdns);
    let started = Instant::now();
    client.send(
        "POST",
        "",
        Some(&json!({"name": zone, "kind": "Native", "nameservers": []})),
    )?;
    for batch in records.chunks(batch) {
        client.send(
            "PATCH",
            &format!("/{zone}"),
            Some(&json!({"rrsets": a_rrsets(batch, Some("REPLACE"))})),
        )?;
    }
    Ok(started.elapsed())
}

/// The time to create every zone of `zones` with its (name, address) A
/// records, TTL 300: one POST per zone carrying its RRsets, one after the
/// other on one connection — the fleet's floor, PowerDNS's write rate.
pub fn create_zones(
    pdns: &Pdns,
    zones: &[(String, Vec<(String, String)>)],
) -> anyhow::Result<Duration> {
    let client = Client::new(pdns);
    let started = Instant::now();
    for (zone, records) in zones {
        client.send(
            "POST",
            "",
            Some(&json!({
                "name": zone,
                "kind": "Native",
                "nameservers": [],
                "rrsets": a_rrsets(records, None),
            })),
        )?;
    }
    Ok(started.elapsed())
}

/// The time a push needs at least to reach PowerDNS: open the local
/// repository, read the pushed commit's `file`, and PATCH one RRset of
/// `zone` (an existing zone) to the (name, address) A record it holds,
/// on a fresh connection — what the daemon does for a one-record push,
/// with nothing of Cairn's (no plan, no history).
pub fn push_one_record(
    pdns: &Pdns,
    repo: &std::path::Path,
    file: &str,
    zone: &str,
    record: &(String, String),
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let repository = gix::open(repo)?;
    let tree = repository.head_commit()?.tree()?;
    let entry = tree
        .lookup_entry_by_path(file)?
        .ok_or_else(|| anyhow::anyhow!("{file} is not in the pushed commit"))?;
    let text = String::from_utf8(entry.object()?.detach().data)?;
    anyhow::ensure!(
        text.contains(&record.1),
        "{file} does not hold the pushed address"
    );
    let client = Client::new(pdns);
    client.send(
        "PATCH",
        &format!("/{zone}"),
        Some(&json!({"rrsets": a_rrsets(std::slice::from_ref(record), Some("REPLACE"))})),
    )?;
    Ok(started.elapsed())
}

/// Whether `zone` answers `address` for the A record `name`: one GET of
/// the zone (read from PowerDNS's backend, so no cache delays it).
pub fn serves(pdns: &Pdns, zone: &str, name: &str, address: &str) -> anyhow::Result<bool> {
    let text = Client::new(pdns).send("GET", &format!("/{zone}"), None)?;
    let zone: Value = serde_json::from_str(&text)?;
    Ok(zone["rrsets"].as_array().is_some_and(|rrsets| {
        rrsets.iter().any(|rrset| {
            rrset["name"] == name
                && rrset["type"] == "A"
                && rrset["records"]
                    .as_array()
                    .is_some_and(|records| records.iter().any(|r| r["content"] == address))
        })
    }))
}

/// A records as PowerDNS's RRsets, with `changetype` for a PATCH.
fn a_rrsets(records: &[(String, String)], changetype: Option<&str>) -> Vec<Value> {
    records
        .iter()
        .map(|(name, address)| {
            let mut rrset = json!({
                "name": name,
                "type": "A",
                "ttl": 300,
                "records": [{"content": address, "disabled": false}],
            });
            if let Some(changetype) = changetype {
                rrset["changetype"] = json!(changetype);
            }
            rrset
        })
        .collect()
}
