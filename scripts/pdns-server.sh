#!/usr/bin/env bash
# Runs a PowerDNS Authoritative server in the foreground, on loopback only,
# with its sqlite database and sockets in DIR. Caches are off so that every
# answer reflects the database at once.
#
#   scripts/pdns-server.sh DIR DNS_PORT API_PORT API_KEY
set -euo pipefail
if [ $# -ne 4 ]; then
    echo "usage: $0 DIR DNS_PORT API_PORT API_KEY" >&2
    exit 2
fi
dir=$1 dns_port=$2 api_port=$3 api_key=$4
schema=/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql
mkdir -p "$dir"
if [ ! -s "$dir/pdns.sqlite3" ]; then
    sqlite3 "$dir/pdns.sqlite3" < "$schema"
fi
: > "$dir/pdns.conf"
exec pdns_server \
    --config-dir="$dir" --socket-dir="$dir" \
    --daemon=no --guardian=no --disable-syslog --write-pid=no \
    --launch=gsqlite3 --gsqlite3-database="$dir/pdns.sqlite3" \
    --local-address=127.0.0.1 --local-port="$dns_port" \
    --api=yes --api-key="$api_key" \
    --webserver=yes --webserver-address=127.0.0.1 --webserver-port="$api_port" \
    --webserver-allow-from=127.0.0.0/8 \
    --cache-ttl=0 --negquery-cache-ttl=0 --query-cache-ttl=0 --zone-cache-refresh-interval=0 \
    --loglevel=4
