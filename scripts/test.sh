#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting and
# lints, and runs every test, the end-to-end ones against real servers
# (PowerDNS, PostgreSQL, Canaille, podman, kube-apiserver) started on free
# loopback ports. cargo builds the plugins and the binary the tests drive
# (tests/build.rs), as it would without this script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
echo "test: formatting"
cargo fmt --all -- --check
echo "test: clippy"
cargo clippy --quiet --workspace --all-targets -- -D warnings
echo "test: the SDKs package, and build from their packages alone"
# Packaging verifies the SDK against the freshly packaged contract through
# a local registry. Cargo unpacks such a crate under its home once per name
# and version, and never rebuilds a registry crate it built before: drop
# both copies (the build in a target folder of its own, where the only
# cairn-contract is that one), or a changed contract of the same version
# is verified as it was the first time.
package_target="${CARGO_TARGET_DIR:-target}/sdk-package"
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/cairn-contract-* \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/cairn-sdk-* \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/cairn-policy-sdk-* \
    "$package_target"/debug/.fingerprint/cairn-contract-* \
    "$package_target"/debug/deps/libcairn_contract-*
cargo package --quiet --allow-dirty --target-dir "$package_target" -p cairn-contract -p cairn-sdk -p cairn-policy-sdk
echo "test: the JavaScript and Python SDK layers"
node --test sdk-js/test/
python3 -m unittest discover --quiet -s sdk-python
echo "test: the JavaScript and Python providers' own unit tests"
node plugins/kv-etcd/test.mjs
python3 plugins/broker-rabbitmq/test_app.py
echo "test: tests"
cargo test --quiet --workspace
