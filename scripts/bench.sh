#!/usr/bin/env bash
# Runs the benchmarks (release build) against a real PowerDNS and prints a
# table. Arguments are record counts, such as `scripts/bench.sh 1000 10000`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
cargo build --quiet --release --target wasm32-wasip2 -p dns-powerdns
cargo build --quiet --release -p cairn -p cairn-tests --bins
"$CARGO_TARGET_DIR/release/cairn-bench" "$@"
