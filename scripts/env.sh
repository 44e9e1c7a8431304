# Sourced by the other scripts: one cargo target folder outside the clone,
# shared by every build, so that nothing is compiled twice.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cairn-target}"
# The release-built plugins: tests/build.rs builds them in a target folder
# of their own inside the shared one.
export PLUGIN_DIR="$CARGO_TARGET_DIR/plugins/wasm32-wasip2/release"
# Canaille, the SCIM 2.0 identity server the identity provider is tested
# against, lives in its own virtual environment (installed by setup.sh).
export CANAILLE_VENV="${CANAILLE_VENV:-/var/tmp/cairn-canaille-venv}"
