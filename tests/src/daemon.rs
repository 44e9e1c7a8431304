//! A `cairn daemon` started by a test on a free loopback port, stopped (or
//! killed) when dropped, and the HTTP calls a test makes to it.

use crate::pdns::API_KEY;
use crate::ports::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the daemon may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Daemons started by this test process, naming their logs.
static DAEMONS_STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The webhook secret of test tenants (`webhook_secret = { env = "CAIRN_TEST_HOOK" }`).
pub const HOOK_SECRET: &str = "cairn-test-hook-secret";

/// A running daemon.
pub struct Daemon {
    child: Option<Child>,
    /// Its HTTP port.
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
    /// The `CAIRN_LOG` filter it runs with.
    log_filter: String,
    /// The soft limit on its open files (`ulimit -n`), when set.
    open_files: Option<u64>,
}

impl Daemon {
    /// Starts `cairn daemon` for `config` and waits until it is ready.
    pub fn start(config: &Path) -> Self {
        Self::start_logging(config, "info")
    }

    /// [`Daemon::start`] with another `CAIRN_LOG` filter (`cairn=trace`,
    /// say).
    pub fn start_logging(config: &Path, log_filter: &str) -> Self {
        let mut daemon = Self::spawned(config, log_filter);
        daemon.wait_ready();
        daemon
    }

    /// Starts `cairn daemon` for `config` without waiting for it to be
    /// ready (to watch its tenants load).
    pub fn spawned(config: &Path, log_filter: &str) -> Self {
        Self::spawned_with(config, log_filter, None)
    }

    /// [`Daemon::start`] with at most `open_files` descriptors open in the
    /// daemon (`ulimit -n`), as on a host with a low default.
    pub fn start_with_open_files(config: &Path, open_files: u64) -> Self {
        let mut daemon = Self::spawned_with(config, "info", Some(open_files));
        daemon.wait_ready();
        daemon
    }

    fn spawned_with(config: &Path, log_filter: &str, open_files: Option<u64>) -> Self {
        let mut daemon = Self {
            child: None,
            port: free_port(),
            config: config.to_path_buf(),
            // Named by a count, never by a port that another daemon of the
            // same folder could be given too: each daemon's log is its own.
            log: config.with_file_name(format!(
                "daemon-{}.log",
                DAEMONS_STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            )),
            log_filter: log_filter.to_string(),
            open_files,
        };
        daemon.spawn();
        daemon.wait_listening();
        daemon
    }

    /// Waits until the daemon answers `/healthz`.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let answer = self.get("/healthz");
            if matches!(answer, Ok((200, _))) {
                break;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the daemon on port {} did not answer (last: {answer:?}); its log, {}:\n{}",
                self.port,
                self.log.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics with the log if the daemon has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            panic!("the daemon exited with {status}:\n{}", self.log());
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the daemon log");
        let mut command = crate::cairn_command();
        if let Some(limit) = self.open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec the child only calls
            // setrlimit, which is async-signal-safe, on its own limits.
            unsafe {
                command.pre_exec(move || {
                    let mut current = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    if libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let lowered = libc::rlimit {
                        rlim_cur: limit.min(current.rlim_max),
                        rlim_max: current.rlim_max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command
            .args(["daemon", "--config"])
            .arg(&self.config)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .current_dir(self.config.parent().expect("cairn.toml has a folder"))
            .env("PDNS_API_KEY", API_KEY)
            .env("CAIRN_TEST_HOOK", HOOK_SECRET)
            .env("CAIRN_LOG", &self.log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start cairn daemon");
        self.child = Some(child);
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.assert_running();
            if matches!(self.get("/readyz"), Ok((200, _))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not become ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the daemon again without waiting for it (to kill it at a
    /// chosen instant of its start-up and first run).
    pub fn respawn(&mut self) {
        assert!(self.child.is_none(), "the daemon is still running");
        self.spawn();
    }

    /// Starts the daemon again after [`Daemon::kill`] or [`Daemon::stop`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the daemon is still running");
        self.spawn();
        self.wait_ready();
    }

    /// Kills the daemon with SIGKILL, at whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the daemon with SIGTERM and returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the daemon did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A field of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`), in bytes.
    fn status_bytes(&self, field: &str) -> u64 {
        let pid = self.pid().expect("the daemon runs");
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
        kib << 10
    }

    /// The daemon's resident memory now, in bytes.
    pub fn resident_memory(&self) -> u64 {
        self.status_bytes("VmRSS")
    }

    /// The anonymous part of [`Daemon::resident_memory`], in bytes: what
    /// the daemon allocated, without the pages of its own binary and
    /// libraries the kernel mapped in (shared, and given back under
    /// pressure; the binary's code alone is about 30 MiB of it).
    pub fn anonymous_memory(&self) -> u64 {
        self.status_bytes("RssAnon")
    }

    /// The daemon's highest resident memory since it started or since
    /// [`Daemon::reset_peak_memory`], in bytes.
    pub fn peak_memory(&self) -> u64 {
        self.status_bytes("VmHWM")
    }

    /// Starts measuring the daemon's peak memory afresh (from its resident
    /// memory now).
    pub fn reset_peak_memory(&self) {
        let pid = self.pid().expect("the daemon runs");
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak memory");
    }

    /// How many descriptors (sockets, files) the daemon has open.
    pub fn open_descriptors(&self) -> usize {
        let pid = self.pid().expect("the daemon runs");
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A GET: the status and the body.
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        self.request("GET", path, &[], "")
    }

    /// A GET with headers (`Authorization`, say): the status and the body.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Result<(u16, String), String> {
        self.request("GET", path, headers, "")
    }

    /// The JSON status of a tenant.
    pub fn tenant(&self, name: &str) -> serde_json::Value {
        let (status, body) = self
            .get(&format!("/api/v1/tenants/{name}"))
            .expect("the status API answers");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("the status API answers JSON")
    }

    /// Waits up to `timeout` for the run of `tenant` that read `commit` to
    /// end, and returns the tenant's status that showed it. The status
    /// names a commit as soon as its run starts, and a change is on the
    /// server before the run ends (its convergence check, its record):
    /// neither says the run is over. For a run that planned or applied: a
    /// refused or blocked run shows no run id in `last_run`, and a later
    /// run (a drift check) replaces it there.
    #[track_caller]
    pub fn wait_for_run_of(
        &self,
        tenant: &str,
        commit: &str,
        timeout: Duration,
    ) -> serde_json::Value {
        let mut shown = serde_json::Value::Null;
        wait_until(timeout, &format!("the run of {commit} recorded"), || {
            let status = self.tenant(tenant);
            let run = &status["last_recorded_run"];
            let over = run["commit_id"] == commit
                && !run["finished_at"].is_null()
                && status["last_run"]["run_id"] == run["id"];
            if over {
                shown = status;
            }
            over
        });
        shown
    }

    /// The history id of `tenant`'s last run, as its status reports it:
    /// `None` before its first recorded run.
    pub fn last_run_id(&self, tenant: &str) -> Option<i64> {
        self.tenant(tenant)["last_run"]["run_id"].as_i64()
    }

    /// Waits until a run of `tenant` other than `before` (an id from
    /// [`Daemon::last_run_id`]) has ended having applied changes: their
    /// convergence checked and the inventory written. A hand edit made
    /// only when the changes are seen on the server could land between
    /// the apply and its convergence check, and be taken, as it should,
    /// for a provider that did not converge.
    pub fn wait_applied_run(&self, tenant: &str, before: Option<i64>) -> i64 {
        let mut run = None;
        wait_until(Duration::from_secs(30), "a run that applied", || {
            let status = self.tenant(tenant);
            let id = status["last_run"]["run_id"].as_i64();
            run = id;
            id.is_some() && id != before && status["last_run"]["outcome"] == "applied"
        });
        run.expect("waited for it")
    }

    /// The text of `/metrics`.
    pub fn metrics(&self) -> String {
        let (status, text) = self.get("/metrics").expect("the metrics answer");
        assert_eq!(status, 200, "{text}");
        text
    }

    /// The sum of every sample of metric `name` (all label sets) in
    /// `/metrics`; 0 when there is none.
    pub fn metric_sum(&self, name: &str) -> f64 {
        metric_sum(&self.metrics(), name)
    }

    /// A POST with headers: the status and the body.
    pub fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<(u16, String), String> {
        self.request("POST", path, headers, body)
    }

    /// POSTs a push webhook signed with `secret`.
    pub fn push(&self, tenant: &str, secret: &str, body: &str) -> u16 {
        let signature = crate::hmac_sha256_hex(secret.as_bytes(), body.as_bytes());
        let header = format!("sha256={signature}");
        self.post(
            &format!("/hooks/{tenant}"),
            &[("X-Hub-Signature-256", &header), ("X-GitHub-Event", "push")],
            body,
        )
        .expect("the webhook answers")
        .0
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<(u16, String), String> {
        let agent: ureq::Agent = crate::http_agent(Duration::from_secs(10));
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.port));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body.to_string()).expect("a valid request");
        let mut response = agent.run(request).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // `/metrics` of a thousand tenants passes ureq's default 10 MB. (A
        // body cut short by a daemon stopping reads as empty.)
        let text = response
            .body_mut()
            .with_config()
            .limit(ANSWER_LIMIT)
            .read_to_string()
            .unwrap_or_default();
        Ok((status, text))
    }
}

/// The largest answer the daemon's tests read: far above any the daemon
/// gives (`/metrics` of 1,000 tenants is over 10 MB).
const ANSWER_LIMIT: u64 = 256 << 20;

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The sum of every sample of metric `name` in the Prometheus text `text`.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    samples(text, name).map(|(_, value)| value).sum()
}

/// The sum of the samples of metric `name` in the Prometheus text `text`
/// that carry every one of `labels` (`key`, value).
pub fn metric_sum_with(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text, name)
        .filter(|(series, _)| {
            labels
                .iter()
                .all(|(key, value)| series.contains(&format!("{key}=\"{value}\"")))
        })
        .map(|(_, value)| value)
        .sum()
}

/// The sums of the samples of metric `name` in the Prometheus text `text`,
/// by the value of their label `label`.
pub fn metric_sums_by(
    text: &str,
    name: &str,
    label: &str,
) -> std::collections::BTreeMap<String, f64> {
    let mut sums = std::collections::BTreeMap::new();
    let key = format!("{label}=\"");
    for (series, value) in samples(text, name) {
        let Some((_, rest)) = series.split_once(&key) else {
            continue;
        };
        let Some((label_value, _)) = rest.split_once('"') else {
            continue;
        };
        *sums.entry(label_value.to_string()).or_default() += value;
    }
    sums
}

/// The samples of metric `name`: each series (name and labels) and value.
fn samples<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(move |line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name).then_some(())?;
            Some((series, value.parse::<f64>().ok()?))
        })
}

/// `log` from byte `offset` on (an earlier length of the same log, which
/// only grows): what a daemon logged since a test looked.
pub fn since(log: &str, offset: usize) -> &str {
    let mut start = offset.min(log.len());
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

/// Polls `check` every 50 ms until it holds or `timeout` passes; returns
/// how long it took.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, check: impl FnMut() -> bool) -> Duration {
    wait_until_explained(timeout, what, check, String::new)
}

/// [`wait_until`], whose failure also says what `explain` returns then
/// (a tenant's status, a daemon's log): what happened instead.
pub fn wait_until_explained(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) -> Duration {
    let started = Instant::now();
    loop {
        if check() {
            return started.elapsed();
        }
        if started.elapsed() >= timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                explain()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
