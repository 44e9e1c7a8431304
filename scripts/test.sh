#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting and
# lints, and runs every test, the end-to-end ones against real servers
# (PowerDNS, PostgreSQL, Canaille, podman, kube-apiserver) started on free
# loopback ports. cargo builds the plugins and the binary the tests drive
# (tests/build.rs), as it would without this script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
echo "test: formatting"
cargo fmt --all -- --check
echo "test: clippy"
cargo clippy --quiet --workspace --all-targets -- -D warnings
echo "test: the SDK packages, and builds from its package alone"
cargo package --quiet --allow-dirty -p cairn-contract -p cairn-sdk
echo "test: tests"
cargo test --quiet --workspace
