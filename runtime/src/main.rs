//! `cairn`: the command-line interface of the Cairn GitOps runtime.

use std::process::ExitCode;

/// The glibc malloc arenas the process may use. glibc's default (eight per
/// core) lets every thread that ever ran a reconcile keep a heap of freed
/// memory of its own: a daemon of 200 idle tenants held 313 MiB that way,
/// and 87 MiB with two arenas, with no measurable cost to the benchmarks.
/// `MALLOC_ARENA_MAX` in the environment still decides when it is set.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called before any other thread exists; mallopt only
        // changes the allocator's settings.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
    }
    cairn::cli::main()
}
