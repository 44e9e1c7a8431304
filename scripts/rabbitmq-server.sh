#!/usr/bin/env bash
# Runs a private RabbitMQ node in the foreground, on loopback only: its
# management API on PORT, its state, configuration, cookie and logs in
# DIR. The other ports it needs (AMQP, Erlang distribution, an epmd of its
# own) are chosen free at start, so nodes run side by side and the shared
# epmd port 4369 is never used. The login is guest/guest, which RabbitMQ
# accepts only from loopback. Started in a process group of its own (the
# tests' ScriptServer does), killing the group stops epmd and the node.
#
#   scripts/rabbitmq-server.sh DIR PORT
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd) port=$2
read -r amqp_port dist_port epmd_port < <(python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
)
rm -rf "$dir/mnesia"
mkdir -p "$dir/mnesia" "$dir/log"
: > "$dir/rabbitmq-env.conf"
echo "[rabbitmq_management]." > "$dir/enabled_plugins"
cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$amqp_port
management.tcp.ip = 127.0.0.1
management.tcp.port = $port
CONF
if [ ! -s "$dir/.erlang.cookie" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/.erlang.cookie")
    chmod 400 "$dir/.erlang.cookie"
fi
# The cookie is read from HOME; the package's own environment file and
# service account are not used.
export HOME="$dir"
export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
export RABBITMQ_NODENAME="cairn-test-$port@localhost"
export RABBITMQ_MNESIA_BASE="$dir/mnesia"
export RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
export RABBITMQ_DIST_PORT="$dist_port"
export ERL_EPMD_PORT="$epmd_port" ERL_EPMD_ADDRESS=127.0.0.1
export ERL_CRASH_DUMP="$dir/erl_crash.dump"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
cd "$dir"
# An epmd of its own in the foreground, so that it stays in this group.
epmd -port "$epmd_port" -address 127.0.0.1 &
for _ in $(seq 50); do
    epmd -port "$epmd_port" -names > /dev/null 2>&1 && break
    sleep 0.1
done
exec /usr/lib/rabbitmq/bin/rabbitmq-server
