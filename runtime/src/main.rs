//! `cairn`: the command-line interface of the Cairn GitOps runtime.

fn main() -> std::process::ExitCode {
    cairn::cli::main()
}
