#!/usr/bin/env bash
# Builds the cairn binary and the provider plugins (release, wasm32-wasip2,
# in $PLUGIN_DIR), showing cargo's own progress: a first build takes
# minutes, and a newcomer running the quickstart should see it move.
# `cargo test` builds what it needs by itself; this is for the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [ ! -x "$CARGO_TARGET_DIR/debug/cairn" ]; then
    echo "build: a first build compiles Cairn (about 500 crates, the WebAssembly engine"
    echo "build: among them) and its four provider plugins: 10 to 15 minutes on two cores."
    echo "build: Later builds reuse it ($CARGO_TARGET_DIR) and take seconds."
fi

# The plugins first, in the folder where the tests package's build script
# (tests/build.rs) builds them too, with the same packages and without the
# host's flags: that build then finds them up to date. Built here, their
# progress shows; inside a build script it would not.
plugin_target="$CARGO_TARGET_DIR/${CAIRN_PLUGIN_TARGET_DIR:-plugins}"
packages=()
for manifest in plugins/*/Cargo.toml tests/plugins/*/Cargo.toml; do
    name=$(sed -n '/^\[package\]/,/^\[/s/^name *= *"\(.*\)"/\1/p' "$manifest")
    packages+=(--package "$name")
done
echo "build: the provider plugins (WebAssembly, release)"
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
    cargo build --release --target wasm32-wasip2 --target-dir "$plugin_target" "${packages[@]}"
echo "build: the cairn command line"
cargo build --bins "$@"
