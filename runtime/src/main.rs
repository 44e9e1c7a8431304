//! `cairn`: the command-line interface of the Cairn GitOps runtime.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
