//! The embedded store's connection threads keep the daemon's priority.
//!
//! Each SQLite connection has a thread of its own, which takes the nice
//! value of the thread that opens it; the daemon's tenant workers run on
//! the guest threads, at nice 19. The daemon opens every connection at
//! start ([`StateStore::open_every_connection`]), so that queries made
//! from a worker's thread never open one at its priority, which the
//! daemon's lease renewals would then wait behind. This file holds one
//! test, alone in its process: it reads the nice value of every thread of
//! the process.

use cairn::store::StateStore;

/// The nice value the guest threads run at (`cairn::host::cpu::GUEST_NICE`).
const WORKER_NICE: i32 = cairn::host::cpu::GUEST_NICE;

/// Queries made at once from the lowered thread: more than the pool's
/// connections, so that a pool still short of some opens them there.
const QUERIES_AT_ONCE: usize = 16;

/// The nice value of each of this process's threads whose name starts
/// with `prefix`.
fn nice_of_threads_named(prefix: &str) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("list this process's threads") {
        let task = task.expect("a thread's entry").path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is the 3rd field of
        // stat, nice the 19th.
        let after_name = &stat[stat.rfind(')').map_or(0, |at| at + 2)..];
        let nice = after_name
            .split_whitespace()
            .nth(19 - 3)
            .and_then(|field| field.parse().ok())
            .expect("the nice field of a thread's stat");
        found.push((name.trim().to_string(), nice));
    }
    found
}

#[test]
fn the_daemons_sqlite_connections_keep_its_priority_whoever_queries() {
    // SAFETY: reads the calling thread's nice value.
    let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
    assert!(ours < WORKER_NICE, "the test already runs at nice {ours}");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite:{}/state.db", folder.path().display());
    let daemon = runtime();
    let store = daemon.block_on(async {
        let store = StateStore::open(&url).await.expect("open the store");
        store
            .open_every_connection()
            .await
            .expect("open every connection");
        store
    });

    // Many queries at once from a runtime at the workers' priority, which
    // lives until the threads are read: a connection handed back is
    // returned to the pool by a task on the runtime that used it.
    let (queried, read) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let querying = store.clone();
    let worker = std::thread::spawn(move || {
        // SAFETY: setpriority only reads its integer arguments; `gettid`
        // names the calling thread.
        let lowered = unsafe {
            libc::setpriority(
                libc::PRIO_PROCESS,
                libc::gettid() as libc::id_t,
                WORKER_NICE,
            )
        };
        assert_eq!(lowered, 0, "could not lower the querying thread");
        let worker = runtime();
        worker.block_on(async {
            let queries = (0..QUERIES_AT_ONCE).map(|_| querying.leases());
            for answer in futures::future::join_all(queries).await {
                answer.expect("read the leases");
            }
        });
        queried.0.send(()).expect("tell the test");
        let _ = read.1.recv();
    });
    queried.1.recv().expect("the queries were made");

    let connections = nice_of_threads_named("sqlx-sqlite");
    let _ = read.0.send(());
    worker.join().expect("the querying thread");
    assert!(!connections.is_empty(), "no SQLite connection thread found");
    let lowered: Vec<_> = connections
        .iter()
        .filter(|(_, nice)| *nice != ours)
        .collect();
    assert!(
        lowered.is_empty(),
        "connection threads below the opener's nice {ours}: {lowered:?} of {connections:?}"
    );
}

/// A runtime whose threads take the calling thread's priority and drive
/// the tasks that hand connections back to the pool.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}
