//! `peak-memory REPORT PROGRAM ARG0 [ARGS...]`: runs PROGRAM, named ARG0
//! to itself, with this program's standard streams and, when it ends,
//! writes to REPORT its peak resident memory in KiB (`ru_maxrss`) and its
//! wait status, separated by a space. The tests measure `cairn` through it
//! ([`cairn_tests::Workspace::cairn_peak_memory`]).
//!
//! Why a program between them: Linux starts a process's `ru_maxrss` from
//! the memory map it replaces at `exec`, which for a process the test
//! program spawned is the test program's own (shared until `exec`, or
//! copied by `fork`). A `cairn` spawned by a test program that holds a
//! gigabyte for another of its tests would report a gigabyte; spawned
//! from this small program, it reports its own peak.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// The exit code when PROGRAM could not be run or waited for.
const CANNOT_RUN: u8 = 127;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(report), Some(program), Some(arg0)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: peak-memory REPORT PROGRAM ARG0 [ARGS...]");
        return ExitCode::from(CANNOT_RUN);
    };
    // Reaped below by wait4, which gives its resource usage where `wait`
    // would not.
    let child = match Command::new(&program).arg0(arg0).args(args).spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!("peak-memory: cannot run {}: {error}", program.display());
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let pid = libc::pid_t::try_from(child.id()).expect("a process id");
    let mut status = 0;
    // SAFETY: `rusage` is plain data, and all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            eprintln!(
                "peak-memory: cannot wait for {}: {error}",
                program.display()
            );
            return ExitCode::from(CANNOT_RUN);
        }
    }
    if let Err(error) = std::fs::write(&report, format!("{} {status}", usage.ru_maxrss)) {
        eprintln!("peak-memory: cannot write {}: {error}", report.display());
        return ExitCode::from(CANNOT_RUN);
    }
    ExitCode::SUCCESS
}
