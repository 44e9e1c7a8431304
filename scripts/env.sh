# Sourced by the other scripts: one cargo target folder outside the clone,
# shared by every build, so that nothing is compiled twice.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cairn-target}"
export PLUGIN_DIR="$CARGO_TARGET_DIR/wasm32-wasip2/release"
