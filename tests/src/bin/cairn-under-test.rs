//! The `cairn` command line as the end-to-end tests drive it: the same
//! entry point as the `cairn` binary, built as a binary of this package so
//! that cargo builds it, fresh, before it runs the tests
//! ([`cairn_tests::cairn_binary`]).

fn main() -> std::process::ExitCode {
    cairn::cli::main()
}
