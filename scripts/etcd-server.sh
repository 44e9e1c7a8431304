#!/usr/bin/env bash
# Runs a single-member etcd in the foreground, on loopback only: its client
# API (with the v3 JSON gateway under /v3/) on PORT, its data in DIR. The
# peer port is chosen free at start.
#
#   scripts/etcd-server.sh DIR PORT
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd) port=$2
peer_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# etcd reads every ETCD_* variable as a flag: none of the caller's apply.
for variable in $(env | sed -n 's/^\(ETCD_[A-Z_]*\)=.*/\1/p'); do
    unset "$variable"
done
exec etcd --name "member-$port" --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "member-$port=http://127.0.0.1:$peer_port" \
    --initial-cluster-state new --initial-cluster-token "cairn-test-$port" \
    --logger zap --log-outputs stderr
