#!/usr/bin/env bash
# Builds the RabbitMQ provider into the plugin broker_rabbitmq.wasm:
#
#   plugins/broker-rabbitmq/build.sh [OUT_DIR]     # default: this folder
#
# The plugin is a WebAssembly component made by componentize-py (0.25.1)
# from app.py and broker_rabbitmq/ (the provider), Cairn's SDK layer
# sdk-python/cairn_provider and the contract wit/provider@0.2.0, copied
# together into a scratch folder first so that nothing else (caches, an
# earlier build) goes into the plugin. componentize-py is taken from
# $COMPONENTIZE_PY_VENV (default /var/tmp/cairn-componentize-py), a virtual
# environment holding it.
set -euo pipefail

# The componentize-py release the SDK layer's bindings are written for.
componentize_py_version=0.25.1
# The contract the plugin speaks, and the world a provider targets.
contract=provider@0.2.0
world=provider-plugin
plugin=broker_rabbitmq.wasm

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${COMPONENTIZE_PY_VENV:-/var/tmp/cairn-componentize-py}
tool=$venv/bin/componentize-py
out=${1:-$here}

if [ ! -x "$tool" ]; then
    echo "build.sh: $tool is missing: make it with" >&2
    echo "  python3 -m venv $venv && $venv/bin/pip install componentize-py==$componentize_py_version" >&2
    echo "or name another with COMPONENTIZE_PY_VENV" >&2
    exit 1
fi
found=$("$tool" --version 2>/dev/null | awk '{print $2}')
if [ "$found" != "$componentize_py_version" ]; then
    echo "build.sh: $tool is componentize-py ${found:-of unknown version}, not $componentize_py_version" >&2
    exit 1
fi
for needed in "$here/app.py" "$here/broker_rabbitmq/__init__.py" \
    "$root/sdk-python/cairn_provider/__init__.py" "$root/wit/$contract/provider.wit"; do
    if [ ! -f "$needed" ]; then
        echo "build.sh: $needed is missing" >&2
        exit 1
    fi
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/broker-rabbitmq-build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp "$here/app.py" "$scratch/"
cp -R "$here/broker_rabbitmq" "$root/sdk-python/cairn_provider" "$scratch/"
cp -R "$root/wit/$contract" "$scratch/wit"
find "$scratch" -name __pycache__ -type d -prune -exec rm -rf {} +

started=$(date +%s)
# The Python path is the scratch folder and the tool's own environment:
# an active virtual environment of another project is not looked into.
(cd "$scratch" && VIRTUAL_ENV="$venv" "$tool" -d wit -w "$world" componentize app -o "$scratch/$plugin")
mv "$scratch/$plugin" "$out/$plugin"
seconds=$(($(date +%s) - started))
bytes=$(wc -c < "$out/$plugin")
echo "built $out/$plugin ($((bytes / 1024 / 1024)) MiB, $bytes bytes, ${seconds} s)"
