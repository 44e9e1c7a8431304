#!/usr/bin/env bash
# Builds the provider plugins (release, wasm32-wasip2) and the cairn binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
plugins=()
for manifest in plugins/*/Cargo.toml tests/plugins/*/Cargo.toml; do
    [ -f "$manifest" ] || continue
    plugins+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1)")
done
cargo build --quiet --release --target wasm32-wasip2 "${plugins[@]}"
cargo build --quiet --bins "$@"
