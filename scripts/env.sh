# Sourced by the other scripts: one cargo target folder outside the clone,
# shared by every build, so that nothing is compiled twice.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cairn-target}"
# The release-built plugins: tests/build.rs builds them in a target folder
# of their own inside the shared one.
export PLUGIN_DIR="$CARGO_TARGET_DIR/plugins/wasm32-wasip2/release"
# Canaille, the SCIM 2.0 identity server the identity provider is tested
# against, lives in its own virtual environment (installed by setup.sh).
export CANAILLE_VENV="${CANAILLE_VENV:-/var/tmp/cairn-canaille-venv}"
# The toolchains that build providers written in Python and JavaScript
# (installed by setup.sh, pinned): componentize-py in a virtual environment
# of its own, ComponentizeJS in an npm folder of its own. The tests link a
# scaffold's `.venv` or `node_modules` to them instead of installing again.
export COMPONENTIZE_PY_VENV="${COMPONENTIZE_PY_VENV:-/var/tmp/cairn-componentize-py}"
export COMPONENTIZE_JS_DIR="${COMPONENTIZE_JS_DIR:-/var/tmp/cairn-componentize-js}"
# axe-core, which the dashboard's browser tests run in the page to check
# its accessibility (installed by setup.sh, pinned).
export AXE_CORE_DIR="${AXE_CORE_DIR:-/var/tmp/cairn-axe-core}"
