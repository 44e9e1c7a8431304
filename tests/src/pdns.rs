//! A real PowerDNS Authoritative server for one test, started by
//! `scripts/pdns-server.sh` on free loopback ports and killed when dropped.

use crate::ports::free_port;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer its API after starting.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The API key of test servers.
pub const API_KEY: &str = "cairn-test-key";

/// A running PowerDNS server.
pub struct Pdns {
    child: Option<Child>,
    /// Its DNS port (UDP and TCP).
    pub dns_port: u16,
    /// Its HTTP API port.
    pub api_port: u16,
    dir: PathBuf,
}

impl Pdns {
    /// Starts a server with an empty database in `dir`.
    pub fn start(dir: &std::path::Path) -> Self {
        let mut last_error = String::new();
        // A port taken between choosing it and binding it is retried.
        for _ in 0..3 {
            let mut server = Self {
                child: None,
                dns_port: free_port(),
                api_port: free_port(),
                dir: dir.to_path_buf(),
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("PowerDNS did not start: {last_error}");
    }

    /// Starts a stopped server again, on the same ports and database.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        if let Err(error) = self.spawn() {
            panic!("PowerDNS did not restart: {error}");
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.clone();
        let (dns_port, api_port) = (self.dns_port, self.api_port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("pdns.log"))
            .expect("create the server log");
        let child = Command::new(crate::repo_root().join("scripts/pdns-server.sh"))
            .arg(dir.join("pdns"))
            .arg(dns_port.to_string())
            .arg(api_port.to_string())
            .arg(API_KEY)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start scripts/pdns-server.sh (is PowerDNS installed? run scripts/setup.sh)");
        self.child = Some(child);
        self.wait_until_ready()
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                let log = self.log();
                return Err(format!("it exited with {status}: {log}"));
            }
            if self
                .request("GET", "/api/v1/servers/localhost", None)
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("its API did not answer in time".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id, while it runs (the start script execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Stops the server now (to test what happens when it is down).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An API request; `Err` carries the status and body of a non-2xx
    /// answer or the transport error.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let agent: ureq::Agent = crate::http_agent(Duration::from_secs(10));
        let url = format!("{}{path}", self.url());
        let response = match body {
            Some(body) => agent.run(
                ureq::http::Request::builder()
                    .method(method)
                    .uri(&url)
                    .header("X-API-Key", API_KEY)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .expect("a valid request"),
            ),
            None => agent.run(
                ureq::http::Request::builder()
                    .method(method)
                    .uri(&url)
                    .header("X-API-Key", API_KEY)
                    .body(())
                    .expect("a valid request"),
            ),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!("{status}: {text}"));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}: {text}"))
    }

    /// The names of the zones on the server.
    pub fn zones(&self) -> Vec<String> {
        let zones = self
            .request("GET", "/api/v1/servers/localhost/zones", None)
            .expect("list zones");
        let mut names: Vec<String> = zones
            .as_array()
            .expect("an array of zones")
            .iter()
            .map(|z| z["name"].as_str().expect("a zone name").to_string())
            .collect();
        names.sort();
        names
    }

    /// Every RRset of a zone as `NAME TYPE TTL CONTENT…`, sorted, SOA left out.
    pub fn rrsets(&self, zone: &str) -> Vec<String> {
        let zone = self
            .request(
                "GET",
                &format!("/api/v1/servers/localhost/zones/{zone}"),
                None,
            )
            .expect("read a zone");
        let mut lines: Vec<String> = zone["rrsets"]
            .as_array()
            .expect("rrsets")
            .iter()
            .filter(|r| r["type"] != "SOA")
            .map(|r| {
                let mut contents: Vec<&str> = r["records"]
                    .as_array()
                    .expect("records")
                    .iter()
                    .map(|c| c["content"].as_str().expect("content"))
                    .collect();
                contents.sort();
                format!(
                    "{} {} {} {}",
                    r["name"].as_str().unwrap(),
                    r["type"].as_str().unwrap(),
                    r["ttl"],
                    contents.join(" | ")
                )
            })
            .collect();
        lines.sort();
        lines
    }

    /// Creates or replaces an RRset by hand, outside Cairn.
    pub fn put_rrset(
        &self,
        zone: &str,
        name: &str,
        record_type: &str,
        ttl: u32,
        contents: &[&str],
    ) {
        let records: Vec<Value> = contents
            .iter()
            .map(|c| serde_json::json!({"content": c, "disabled": false}))
            .collect();
        let body = serde_json::json!({"rrsets": [{
            "name": name, "type": record_type, "ttl": ttl, "changetype": "REPLACE", "records": records
        }]});
        self.request(
            "PATCH",
            &format!("/api/v1/servers/localhost/zones/{zone}"),
            Some(&body),
        )
        .expect("patch an rrset");
    }

    /// The answer section of `dig` for `name`/`record_type`, one record
    /// per line, sorted.
    pub fn dig(&self, name: &str, record_type: &str) -> Vec<String> {
        let output = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.dns_port.to_string(),
                "+short",
                "+norecurse",
                "+time=2",
                "+tries=2",
                name,
                record_type,
            ])
            .output()
            .expect("run dig (is dnsutils installed? run scripts/setup.sh)");
        assert!(
            output.status.success(),
            "dig failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect();
        lines.sort();
        lines
    }

    /// The TTL `dig` reports for `name`/`record_type`.
    pub fn dig_ttl(&self, name: &str, record_type: &str) -> Option<u32> {
        let output = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.dns_port.to_string(),
                "+noall",
                "+answer",
                "+norecurse",
                name,
                record_type,
            ])
            .output()
            .expect("run dig");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
    }
}

impl Drop for Pdns {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Another writer holding the server's SQLite database, as a second
/// PowerDNS or an operator's script would: reads go on, and every write
/// PowerDNS tries meets the lock and fails at once (it answers 500 and
/// logs "database is locked"). Released on drop.
pub struct WriteLock {
    sqlite: Child,
}

impl Pdns {
    /// Takes the database's write lock (`BEGIN IMMEDIATE` in a `sqlite3`
    /// process) and returns once it is held.
    pub fn lock_writes(&self) -> WriteLock {
        use std::io::{BufRead, Write};
        let mut sqlite = Command::new("sqlite3")
            .arg(self.dir.join("pdns/pdns.sqlite3"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sqlite3 (run scripts/setup.sh)");
        let stdin = sqlite.stdin.as_mut().expect("sqlite3's stdin");
        stdin
            .write_all(b"BEGIN IMMEDIATE;\nSELECT 'locked';\n")
            .expect("ask sqlite3 for the lock");
        stdin.flush().expect("flush sqlite3's stdin");
        let mut line = String::new();
        std::io::BufReader::new(sqlite.stdout.as_mut().expect("sqlite3's stdout"))
            .read_line(&mut line)
            .expect("read sqlite3's answer");
        assert_eq!(line.trim(), "locked", "sqlite3 did not take the lock");
        WriteLock { sqlite }
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pdns.log")).unwrap_or_default()
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        use std::io::Write;
        if let Some(stdin) = self.sqlite.stdin.as_mut() {
            let _ = stdin.write_all(b"COMMIT;\n.quit\n");
        }
        drop(self.sqlite.stdin.take());
        let _ = self.sqlite.wait();
    }
}

/// How many times each RRset was set to each content by a write that took
/// effect among `exchanges` (a [`crate::proxy::RecordingProxy`]'s record of
/// the PATCHes PowerDNS answered 2xx), keyed `NAME TYPE CONTENT[,CONTENT…]`.
pub fn rrset_writes(
    exchanges: &[crate::proxy::Exchange],
) -> std::collections::BTreeMap<String, usize> {
    let mut writes = std::collections::BTreeMap::new();
    for exchange in exchanges
        .iter()
        .filter(|e| e.method == "PATCH" && e.took_effect())
    {
        for rrset in exchange.body["rrsets"].as_array().into_iter().flatten() {
            if rrset["changetype"] != "REPLACE" {
                continue;
            }
            let mut contents: Vec<&str> = rrset["records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|record| record["content"].as_str())
                .collect();
            contents.sort();
            let key = format!(
                "{} {} {}",
                rrset["name"].as_str().unwrap_or_default(),
                rrset["type"].as_str().unwrap_or_default(),
                contents.join(",")
            );
            *writes.entry(key).or_default() += 1;
        }
    }
    writes
}
