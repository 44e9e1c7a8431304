#!/usr/bin/env bash
# Builds the cairn binary and, through the tests package's build script
# (tests/build.rs), the provider plugins (release, wasm32-wasip2, in
# $PLUGIN_DIR). `cargo test` builds what it needs by itself; this is for
# the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --quiet --bins "$@"
