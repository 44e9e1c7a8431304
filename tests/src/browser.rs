//! A real headless Chromium driven through WebDriver (Debian's `chromium`
//! and `chromium-driver`, installed by `scripts/setup.sh`), for the
//! dashboard's tests: pages visited, forms filled, screenshots saved, and
//! axe-core (npm, pinned) run in the page.
//!
//! Each [`Browser`] starts its own `chromedriver` on a free loopback port
//! and its own browser profile; dropping it ends the session (which ends
//! Chromium) and stops the driver.

use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to show what a test waits for: a run of the
/// daemon and a live refresh, on a busy machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// The impacts of axe-core's findings that fail a test.
pub const FAILING_IMPACTS: [&str; 2] = ["serious", "critical"];

/// A headless Chromium session.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
    /// Where screenshots go.
    pub screenshots: PathBuf,
}

/// How the browser shows pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `prefers-color-scheme: light`.
    Light,
    /// `prefers-color-scheme: dark`.
    Dark,
}

/// How long `chromedriver` may take to listen.
const DRIVER_START: Duration = Duration::from_secs(30);

/// How many times a session Chromium failed to start is asked for again.
const SESSION_ATTEMPTS: u32 = 2;

/// Attempts at reading or clicking an element of a live page, which may
/// replace it meanwhile (each a fresh find).
const ELEMENT_ATTEMPTS: u32 = 6;

/// The WebDriver capabilities of a headless Chromium of `width`×`height`
/// with its profile in `profile`.
///
/// Chromium's DevTools port is chosen here rather than by Chromium (which
/// draws any ephemeral port): a port the NAT table redirects accepts
/// nothing, and `chromedriver` then reports "chrome not reachable" only
/// after its own minute-long wait.
fn chromium_capabilities(
    width: u32,
    height: u32,
    scheme: Scheme,
    profile: &Path,
) -> serde_json::Map<String, Value> {
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".to_string(),
        "--disable-gpu".to_string(),
        "--disable-dev-shm-usage".to_string(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
        format!("--remote-debugging-port={}", crate::ports::free_port()),
    ];
    if scheme == Scheme::Dark {
        args.push("--blink-settings=preferredColorScheme=0".to_string());
        args.push("--force-dark-mode".to_string());
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "args": args, "binary": "/usr/bin/chromium" },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Whether the driver answered and refused the session (rather than not
/// answering at all).
fn is_refused_session(error: &NewSessionError) -> bool {
    matches!(error, NewSessionError::SessionNotCreated(_))
}

impl Browser {
    /// Starts `chromedriver` and a headless Chromium of `width`×`height`.
    pub fn start(width: u32, height: u32, scheme: Scheme) -> Self {
        let port = crate::ports::free_port();
        let profile = tempfile::Builder::new()
            .prefix("cairn-chromium-")
            .tempdir()
            .expect("a browser profile folder");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (scripts/setup.sh installs chromium-driver)");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DRIVER_START;
        let mut sessions_refused = 0;
        let client = loop {
            let capabilities = chromium_capabilities(width, height, scheme, profile.path());
            let attempt = runtime.block_on(async {
                let mut builder =
                    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
                builder.capabilities(capabilities);
                builder.connect(&url).await
            });
            match attempt {
                Ok(client) => break client,
                // The driver answered but Chromium did not come up: a busy
                // machine; another Chromium, on another DevTools port.
                Err(error @ NewSessionError::SessionNotCreated(_))
                    if sessions_refused < SESSION_ATTEMPTS =>
                {
                    sessions_refused += 1;
                    eprintln!("browser: session {sessions_refused} not created, again: {error}");
                }
                // The driver is not listening yet.
                Err(error) if !is_refused_session(&error) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => panic!("no WebDriver session on {url}: {error}"),
            }
        };
        let screenshots = crate::target_dir().join("dashboard-screenshots");
        std::fs::create_dir_all(&screenshots).expect("the screenshots folder");
        Self {
            runtime,
            client: Some(client),
            driver,
            _profile: profile,
            screenshots,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The page's URL now.
    pub fn url(&self) -> String {
        self.runtime
            .block_on(self.client().current_url())
            .expect("the URL")
            .to_string()
    }

    /// The page's HTML now.
    pub fn source(&self) -> String {
        self.runtime
            .block_on(self.client().source())
            .expect("the page's source")
    }

    /// The text the reader sees in `<main>`.
    pub fn main_text(&self) -> String {
        self.text("main")
    }

    /// The text of the first element matching `css`, or nothing when none
    /// does.
    pub fn text(&self, css: &str) -> String {
        let read = self.while_replaced(Duration::from_millis(100), || {
            self.runtime.block_on(async {
                match self.client().find(Locator::Css(css)).await {
                    Ok(element) => element.text().await.map(Some),
                    Err(_) => Ok(None),
                }
            })
        });
        read.ok().flatten().unwrap_or_default()
    }

    /// Whether an element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        self.runtime
            .block_on(self.client().find_all(Locator::Css(css)))
            .map(|found| !found.is_empty())
            .unwrap_or(false)
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        self.while_replaced(Duration::from_millis(300), || {
            self.runtime.block_on(async {
                let element = self.client().find(Locator::Css(css)).await?;
                element.click().await
            })
        })
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
    }

    /// `attempt`, made again after `pause` while it fails, up to
    /// [`ELEMENT_ATTEMPTS`] times in all: a live page may replace an
    /// element between finding it and using it, and the element is then
    /// found again. The last failure is returned.
    fn while_replaced<T>(
        &self,
        pause: Duration,
        mut attempt: impl FnMut() -> Result<T, fantoccini::error::CmdError>,
    ) -> Result<T, fantoccini::error::CmdError> {
        let mut made = 1;
        loop {
            match attempt() {
                Err(_) if made < ELEMENT_ATTEMPTS => {
                    made += 1;
                    std::thread::sleep(pause);
                }
                result => return result,
            }
        }
    }

    /// Types `text` into the first element matching `css`.
    pub fn fill(&self, css: &str, text: &str) {
        self.runtime
            .block_on(async {
                let element = self.client().find(Locator::Css(css)).await?;
                element.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("fill {css}: {e}"));
    }

    /// Runs `script` in the page and returns its value.
    pub fn run(&self, script: &str) -> Value {
        self.runtime
            .block_on(self.client().execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("run {script}: {e}"))
    }

    /// Runs `script`, which calls its last argument with its result.
    pub fn run_async(&self, script: &str) -> Value {
        self.runtime
            .block_on(self.client().execute_async(script, Vec::new()))
            .unwrap_or_else(|e| panic!("run {script}: {e}"))
    }

    /// Waits until the page's `<main>` shows `text` (without reloading
    /// it); returns how long that took.
    #[track_caller]
    pub fn wait_for_text(&self, text: &str) -> Duration {
        let started = Instant::now();
        loop {
            if self.main_text().contains(text) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < WAIT,
                "the page never showed {text:?}; it shows:\n{}",
                self.main_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the page's URL ends with `suffix`.
    #[track_caller]
    pub fn wait_for_url(&self, suffix: &str) {
        let started = Instant::now();
        while !self.url().ends_with(suffix) {
            assert!(
                started.elapsed() < WAIT,
                "the browser never reached {suffix}; it is at {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The session's cookies as (name, value, http-only, same-site).
    pub fn cookies(&self) -> Vec<(String, String, bool, String)> {
        self.runtime
            .block_on(self.client().get_all_cookies())
            .expect("the cookies")
            .into_iter()
            .map(|cookie| {
                (
                    cookie.name().to_string(),
                    cookie.value().to_string(),
                    cookie.http_only().unwrap_or(false),
                    cookie
                        .same_site()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Saves a screenshot of the page as `NAME.png` under
    /// [`Browser::screenshots`]; returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("save the screenshot");
        path
    }

    /// Runs axe-core on the page and returns its serious and critical
    /// violations, one line each (rule, help, the elements).
    pub fn accessibility_violations(&self) -> Vec<String> {
        let source = std::fs::read_to_string(axe_core_path())
            .expect("axe-core is installed (scripts/setup.sh puts it in $AXE_CORE_DIR)");
        self.run(&format!("{source}\n;return true;"));
        let found = self.run_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { resultTypes: ["violations"] })
                 .then(result => done(result.violations.map(v => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.map(n => n.target.join(" ")) }))))
                 .catch(error => done([{ id: "axe-failed", impact: "critical", help: String(error), nodes: [] }]));"#,
        );
        found
            .as_array()
            .expect("a list of violations")
            .iter()
            .filter(|v| FAILING_IMPACTS.contains(&v["impact"].as_str().unwrap_or("")))
            .map(|v| {
                format!(
                    "{} ({}): {} at {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                )
            })
            .collect()
    }
}

/// axe-core's script, from `$AXE_CORE_DIR` (set by `scripts/env.sh`).
pub fn axe_core_path() -> PathBuf {
    let dir = std::env::var_os("AXE_CORE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("/var/tmp/cairn-axe-core").to_path_buf());
    dir.join("node_modules/axe-core/axe.min.js")
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
