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
        Self { server }
    }

    /// The URL of its `postgres` database, for `state = "…"`.
    pub fn url(&self) -> String {
        format!("postgres://cairn@127.0.0.1:{}/postgres", self.server.port)
    }

    /// Stops the server as a crash would (SIGKILL).
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// Starts it again on the same port with the same data, after
    /// [`Postgres::kill`]; returns once it accepts connections.
    pub fn restart(&mut self) {
        self.server
            .restart(SCRIPT, START_TIMEOUT, accepts_connections);
    }
}
