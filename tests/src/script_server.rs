//! A server started by one of the project's scripts (`scripts/NAME.sh DIR
//! PORT`) in its own process group, so that stopping it stops every
//! process it started, and restarted on another free port when the one
//! chosen was taken in between.

use crate::ports::free_port;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Attempts on fresh ports before giving up.
const ATTEMPTS: usize = 3;

/// A running script server; dropping it kills its process group.
pub struct ScriptServer {
    child: Child,
    /// The folder holding its state and its log.
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl ScriptServer {
    /// Runs `scripts/SCRIPT DIR PORT` on a free port until `ready` says so
    /// within `timeout`; panics, with the log, when it never does.
    pub fn start(
        script: &str,
        dir: &Path,
        timeout: Duration,
        mut ready: impl FnMut(&mut ScriptServer) -> bool,
    ) -> Self {
        let mut last_error = String::new();
        for _ in 0..ATTEMPTS {
            match Self::spawn(script, dir, free_port()) {
                Ok(mut server) => match server.wait(timeout, &mut ready) {
                    Ok(()) => return server,
                    Err(error) => last_error = error,
                },
                Err(error) => last_error = error,
            }
        }
        panic!("{script} did not start: {last_error}");
    }

    fn spawn(script: &str, dir: &Path, port: u16) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let log = dir.join(format!("{}.log", script.trim_end_matches(".sh")));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(crate::repo_root().join("scripts").join(script))
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start scripts/{script}: {e} (run scripts/setup.sh)"))?;
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            port,
            log,
        })
    }

    fn wait(
        &mut self,
        timeout: Duration,
        ready: &mut impl FnMut(&mut ScriptServer) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}: {}", self.log()));
            }
            if ready(self) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("it was not ready in time: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills its process group, as a crash would.
    pub fn kill(&mut self) {
        let group = -(self.child.id() as i32);
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group.to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and folder (after [`Self::kill`]),
    /// until `ready` says so within `timeout`.
    pub fn restart(
        &mut self,
        script: &str,
        timeout: Duration,
        mut ready: impl FnMut(&mut ScriptServer) -> bool,
    ) {
        let fresh = Self::spawn(script, &self.dir, self.port)
            .unwrap_or_else(|error| panic!("{script} did not start again: {error}"));
        let _ = std::mem::replace(self, fresh);
        if let Err(error) = self.wait(timeout, &mut ready) {
            panic!("{script} did not start again: {error}");
        }
    }

    /// What it has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.kill();
    }
}
