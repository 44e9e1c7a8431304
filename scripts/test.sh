#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting and
# lints, builds the plugins and the binary, and runs every test, the
# end-to-end ones against a real PowerDNS started on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
echo "test: formatting"
cargo fmt --all -- --check
echo "test: building plugins and the cairn binary"
scripts/build.sh
echo "test: clippy"
cargo clippy --quiet --workspace --all-targets -- -D warnings
echo "test: tests"
cargo test --quiet --workspace
