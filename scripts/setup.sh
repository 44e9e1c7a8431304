#!/usr/bin/env bash
# Installs what Cairn needs to build and to run its real servers, and does
# nothing when it is all there already:
#   - the wasm32-wasip2 target of the pinned Rust toolchain;
#   - PowerDNS Authoritative with its sqlite backend, dig, sqlite3 and git;
#   - Canaille (a SCIM 2.0 identity server) in a private virtual environment;
#   - podman with runc (its Docker-compatible API runs the apps tests) and a
#     static busybox for the test images;
#   - etcd and a kube-apiserver built from Debian's `kubernetes` source
#     package (scripts/kube-build.sh; about 5 minutes once, then cached in
#     /var/tmp/cairn-kube) for the Kubernetes provider's tests, unless
#     called with `--without-kube`;
#   - RabbitMQ (its management API) for the RabbitMQ provider's tests;
#   - ssh-keygen, which verifies signed commits;
#   - componentize-py (PyPI) and ComponentizeJS (npm), pinned, which build
#     providers written in Python and JavaScript;
#   - Chromium and its WebDriver, and axe-core (npm, pinned), which the
#     dashboard's browser tests drive and check for accessibility;
#   - Mercurial (`hg`, which reads Mercurial sources) and the CNCF
#     distribution registry (`docker-registry`, with `htpasswd` from
#     apache2-utils for its users), for the sources' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
fi

packages=(pdns-server pdns-backend-sqlite3 dnsutils sqlite3 git python3-venv
    podman runc uidmap slirp4netns fuse-overlayfs busybox-static openssl etcd-server curl openssh-client
    postgresql rabbitmq-server chromium chromium-driver fonts-dejavu-core
    mercurial docker-registry apache2-utils)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # The packages' own service is not wanted: Cairn's scripts start
    # PowerDNS on free loopback ports themselves.
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Prometheus project's Python client: the tests parse /metrics with it.
if ! python3 -c "import prometheus_client" 2>/dev/null; then
    echo "setup: installing the prometheus-client Python package"
    python3 -m pip install --quiet --disable-pip-version-check "prometheus-client==0.21.1"
fi

# Canaille, pinned: newer scim2-models releases break its SCIM POSTs.
canaille_version=0.3.6
scim2_models_version=0.9.0
canaille_installed() {
    [ -x "$CANAILLE_VENV/bin/canaille" ] && "$CANAILLE_VENV/bin/python" - "$canaille_version" "$scim2_models_version" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("canaille") == sys.argv[1] and version("scim2-models") == sys.argv[2] else 1)
PY
}
if ! canaille_installed; then
    echo "setup: installing Canaille $canaille_version into $CANAILLE_VENV"
    python3 -m venv "$CANAILLE_VENV"
    "$CANAILLE_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "canaille[front,oidc,scim,sqlite,server]==$canaille_version" "scim2-models==$scim2_models_version"
fi

# The toolchains of providers in Python and JavaScript, pinned to the
# versions `cairn plugin new` writes into a scaffold's build.
componentize_py_version=0.25.1
componentize_js_version=0.23.0
if ! "$COMPONENTIZE_PY_VENV/bin/python" - "$componentize_py_version" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("componentize-py") == sys.argv[1] else 1)
PY
then
    echo "setup: installing componentize-py $componentize_py_version into $COMPONENTIZE_PY_VENV"
    python3 -m venv "$COMPONENTIZE_PY_VENV"
    "$COMPONENTIZE_PY_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "componentize-py==$componentize_py_version"
fi
if ! command -v npm >/dev/null; then
    echo "setup: installing Node.js and npm"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
componentize_js_package="$COMPONENTIZE_JS_DIR/node_modules/@bytecodealliance/componentize-js/package.json"
if ! node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
    "$componentize_js_package" "$componentize_js_version" 2>/dev/null; then
    echo "setup: installing ComponentizeJS $componentize_js_version into $COMPONENTIZE_JS_DIR"
    mkdir -p "$COMPONENTIZE_JS_DIR"
    npm install --prefix "$COMPONENTIZE_JS_DIR" --no-audit --no-fund --silent \
        "@bytecodealliance/componentize-js@$componentize_js_version"
fi

# axe-core, pinned: the dashboard's browser tests run it in the page.
axe_core_version=4.14.1
if ! node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
    "$AXE_CORE_DIR/node_modules/axe-core/package.json" "$axe_core_version" 2>/dev/null; then
    echo "setup: installing axe-core $axe_core_version into $AXE_CORE_DIR"
    mkdir -p "$AXE_CORE_DIR"
    npm install --prefix "$AXE_CORE_DIR" --no-audit --no-fund --silent "axe-core@$axe_core_version"
fi

# kube-apiserver: no registry here offers it, so it is built from source
# once; the script returns at once when the binary is already there. The
# quickstart does not need it (`--without-kube`).
if [ "${1:-}" != "--without-kube" ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo scripts/kube-build.sh
fi
