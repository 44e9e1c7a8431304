//! A private PostgreSQL server for a test (`scripts/postgres-server.sh`):
//! a fresh cluster in the test's folder on a free loopback port, killed
//! when dropped, restartable on the same port to test recovery.

use crate::script_server::ScriptServer;
use std::path::Path;
use std::time::Duration;

/// How long initdb and the first start may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The script that runs the server.
const SCRIPT: &str = "postgres-server.sh";

/// A running PostgreSQL server.
pub struct Postgres {
    server: ScriptServer,
    /// Its data folder, where `postmaster.pid` names the running server.
    data: std::path::PathBuf,
}

/// Whether the server's log says it accepts connections since its last
/// start.
fn accepts_connections(server: &mut ScriptServer) -> bool {
    server
        .log()
        .contains("database system is ready to accept connections")
}

impl Postgres {
    /// Starts a fresh server with its cluster under `dir/postgres`.
    pub fn start(dir: &Path) -> Self {
        let server = ScriptServer::start(
            SCRIPT,
            &dir.join("postgres"),
            START_TIMEOUT,
            accepts_connections,
        );
        Self {
            server,
            data: dir.join("postgres/data"),
        }
    }

    /// The URL of its `postgres` database, for `state = "…"`.
    pub fn url(&self) -> String {
        format!("postgres://cairn@127.0.0.1:{}/postgres", self.server.port)
    }

    /// Stops the server as a crash would (SIGKILL), and waits until its
    /// postmaster is gone.
    pub fn kill(&mut self) {
        let postmaster = self.postmaster();
        self.server.kill();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while postmaster.is_some_and(is_postgres) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port with the same data, after
    /// [`Postgres::kill`]; returns once it accepts connections. A killed
    /// server leaves its `postmaster.pid` behind, which PostgreSQL takes
    /// for a live server when another program has been given the same
    /// process id since (this machine reuses ids within minutes): the
    /// file is removed first when no PostgreSQL has that id, as an
    /// operator would after a crash.
    pub fn restart(&mut self) {
        if self.postmaster().is_some_and(|pid| !is_postgres(pid)) {
            let _ = std::fs::remove_file(self.data.join("postmaster.pid"));
            // The socket's lock file names the same process, and is
            // refused the same way ("lock file … already exists").
            let sockets = self.data.parent().expect("the data folder has a parent");
            for entry in std::fs::read_dir(sockets).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(".s.PGSQL.") && name.ends_with(".lock") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        self.server
            .restart(SCRIPT, START_TIMEOUT, accepts_connections);
    }

    /// The process id in `postmaster.pid`, when there is one.
    fn postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

/// The processes a test ran against the server made their tenant locks'
/// folder in the temporary folder, named by the server's URL (a shared
/// store's locks live there, one folder per store): a fresh server's URL
/// is new every test, so its folder goes with it.
impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(locks) = cairn::tenant_lock::TenantLocks::of_url(&self.url()) {
            let _ = std::fs::remove_dir_all(locks.folder());
        }
    }
}

/// Whether process `pid` is a PostgreSQL server process (not a zombie).
fn is_postgres(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `PID (COMM) STATE …`: the command name, then the state.
    stat.split_once(" (")
        .and_then(|(_, rest)| rest.rsplit_once(") "))
        .is_some_and(|(comm, rest)| comm == "postgres" && !rest.starts_with('Z'))
}
