#!/bin/sh
# Builds hostile.py into hostile_py.wasm, a component of the world
# `provider-plugin` of cairn:provider@0.2.0 (wit/provider@0.2.0 of the
# repository).
#
#   ./build.sh [OUT_DIR]      # OUT_DIR defaults to the current folder
#
# COMPONENTIZE_PY_VENV names a virtual environment holding componentize-py
# 0.25 (default /var/tmp/cairn-componentize-py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out_dir=${1:-.}
venv=${COMPONENTIZE_PY_VENV:-/var/tmp/cairn-componentize-py}
wit="$here/../../../wit/provider@0.2.0"
mkdir -p "$out_dir"
out=$(cd "$out_dir" && pwd)/hostile_py.wasm
started=$(date +%s)
# componentize-py writes its bindings and caches beside the app: build from
# a scratch copy so the source folder stays clean.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/hostile.py" "$work/"
(cd "$work" && "$venv/bin/componentize-py" -d "$wit" -w provider-plugin componentize hostile -o "$out")
echo "componentize-py: $out, $(wc -c <"$out") bytes, $(($(date +%s) - started)) s"
