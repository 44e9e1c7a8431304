#!/usr/bin/env bash
# Runs a private PostgreSQL server on loopback for tests, in the foreground
# (so a test harness can stop it by killing its process group):
#
#   scripts/postgres-server.sh DIR PORT
#
# DIR holds the cluster (DIR/data, owned by the `postgres` user when run as
# root) and the server's socket; PORT is its TCP port on 127.0.0.1. The
# superuser is `cairn` and loopback connections are trusted, so the URL is
# postgres://cairn@127.0.0.1:PORT/postgres. Nothing outside DIR is touched:
# the system's own clusters and services are left alone. fsync is off (the
# data is a test's and need not survive the machine), but commits are
# synchronous: a committed transaction survives the server being killed,
# which the recovery tests rely on.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
dir=$(mkdir -p "$1" && cd "$1" && pwd)
port=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres-server: PostgreSQL is not installed (apt-get install postgresql)" >&2
    exit 1
fi

# initdb and postgres refuse to run as root: run them as `postgres`.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir"
    as_owner=(runuser -u postgres --)
fi

if [ ! -s "$dir/data/PG_VERSION" ]; then
    "${as_owner[@]}" "$bin/initdb" --pgdata="$dir/data" --username=cairn \
        --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
fi

exec "${as_owner[@]}" "$bin/postgres" -D "$dir/data" \
    -c listen_addresses=127.0.0.1 -c port="$port" \
    -c unix_socket_directories="$dir" \
    -c fsync=off -c full_page_writes=off \
    -c max_connections=200 -c shared_buffers=32MB
