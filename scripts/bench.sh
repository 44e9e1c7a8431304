#!/usr/bin/env bash
# Runs the benchmarks (release build) against a real PowerDNS and prints a
# table. Arguments are record counts, such as `scripts/bench.sh 1000 10000`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
# octoDNS, pinned, in a private virtual environment: the side-by-side rows.
venv="${CAIRN_OCTODNS_VENV:-/var/tmp/cairn-octodns-venv}"
if [ ! -x "$venv/bin/octodns-sync" ] || ! "$venv/bin/octodns-sync" --version 2>/dev/null | grep -q "1.22.0"; then
    echo "bench: installing octoDNS 1.22.0 and octodns-powerdns 1.2.0 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "octodns==1.22.0" "octodns-powerdns==1.2.0"
fi
export OCTODNS_SYNC="$venv/bin/octodns-sync"
# The bench and the cairn build it drives; tests/build.rs builds the
# plugins (release) with them.
cargo build --quiet --release -p cairn-tests --bins
"$CARGO_TARGET_DIR/release/cairn-bench" "$@"
