#!/usr/bin/env bash
# Runs podman's Docker-compatible Engine API in the foreground on loopback,
# with its storage, runtime state and configuration private to DIR, and two
# local test images (no registry is needed): `cairn-test/web:1` and
# `cairn-test/web:2`, a static busybox serving `version N` over HTTP on
# port 8080.
#
#   scripts/podman-service.sh DIR PORT
#
# Stop it with scripts/podman-service.sh --stop DIR, which removes every
# container first (containers outlive the service otherwise).
set -euo pipefail
if [ "${1:-}" = "--stop" ]; then
    dir=$2
    export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
    podman rm --all --force --time 0 > /dev/null 2>&1 || true
    podman network prune --force > /dev/null 2>&1 || true
    podman volume prune --force > /dev/null 2>&1 || true
    exit 0
fi
if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT | $0 --stop DIR" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd) port=$2
# runc, not crun (crun fails here: "cgroups in hybrid mode not supported");
# cgroupfs and file events because there is no systemd; default ulimits
# under the hard limits of this kind of machine; network definitions kept
# in DIR, not /etc.
cat > "$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=1024:1024"]

[network]
network_config_dir = "$dir/networks"

[engine]
runtime = "runc"
# Locks and runtime files of this instance's own, not the host's shared
# /run/libpod and lock table.
tmp_dir = "$dir/tmp"
lock_type = "file"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$dir/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$dir/storage"
runroot = "$dir/run"
CONF
export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"

busybox=$(command -v busybox || echo /bin/busybox)
for version in 1 2; do
    rootfs="$dir/image-$version"
    rm -rf "$rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in sh httpd wget cat sleep echo; do ln -s busybox "$rootfs/bin/$applet"; done
    echo "version $version" > "$rootfs/www/index.html"
    tar -C "$rootfs" -cf "$rootfs.tar" .
    podman import --quiet --change 'CMD ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]' \
        "$rootfs.tar" "cairn-test/web:$version" > /dev/null
    rm -rf "$rootfs" "$rootfs.tar"
done
exec podman system service --time=0 "tcp://127.0.0.1:$port"
