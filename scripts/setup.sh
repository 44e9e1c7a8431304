#!/usr/bin/env bash
# Installs what Cairn needs to build and to run its real servers, and does
# nothing when it is all there already:
#   - the wasm32-wasip2 target of the pinned Rust toolchain;
#   - PowerDNS Authoritative with its sqlite backend, dig, sqlite3 and git.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "setup: adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
fi

packages=(pdns-server pdns-backend-sqlite3 dnsutils sqlite3 git)
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
