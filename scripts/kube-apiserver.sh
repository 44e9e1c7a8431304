#!/usr/bin/env bash
# Starts (idempotently) a real kube-apiserver v1.20.2 + Debian etcd on loopback for tests.
#
#   kube-apiserver.sh DIR [ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT]
#   kube-apiserver.sh --stop DIR
#
# On success prints shell-sourceable KEY=VALUE lines (also saved to DIR/env):
#   KUBE_URL, KUBE_CA (file to pass to curl --cacert / kubeconfig certificate-authority),
#   KUBE_ADMIN_TOKEN (group system:masters), KUBE_LIMITED_TOKEN (user "limited", no groups),
#   KUBECONFIG_ADMIN, ETCD_URL, KUBE_READY_SECONDS.
# Pids: DIR/etcd.pid, DIR/kube-apiserver.pid. Logs: DIR/etcd.log, DIR/kube-apiserver.log.
# Env overrides: KUBE_APISERVER_BIN, ETCD_BIN, READY_TIMEOUT (s, default 120).
set -euo pipefail

APISERVER=${KUBE_APISERVER_BIN:-/var/tmp/cairn-kube/kube-apiserver}
ETCD=${ETCD_BIN:-/usr/bin/etcd}
READY_TIMEOUT=${READY_TIMEOUT:-120}

die() { echo "kube-apiserver.sh: $*" >&2; exit 1; }
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {  # stop_pidfile FILE : TERM, wait up to 15s, then KILL
  local f=$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

if [[ ${1:-} == --stop ]]; then
  [[ -n ${2:-} ]] || die "usage: $0 --stop DIR"
  DIR=$(cd "$2" 2>/dev/null && pwd) || exit 0
  stop_pidfile "$DIR/kube-apiserver.pid"
  stop_pidfile "$DIR/etcd.pid"
  echo "stopped (data kept in $DIR)" >&2
  exit 0
fi

[[ -n ${1:-} ]] || die "usage: $0 DIR [ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT] | --stop DIR"
mkdir -p "$1"; DIR=$(cd "$1" && pwd)
[[ -x $APISERVER ]] || die "$APISERVER missing (run build-kube-apiserver.sh)"
[[ -x $ETCD ]] || die "$ETCD missing (apt-get install etcd-server)"

# Any socket on the port counts (a connection's local port too), and ports
# are picked below the kernel's ephemeral range, which outgoing connections
# (many, when tests run side by side) take from at any moment.
port_free() { [[ -z $(ss -Htan "sport = :$1" 2>/dev/null) ]]; }
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
(( EPHEMERAL_LOW > 21000 )) || EPHEMERAL_LOW=32768
pick_port() {  # random free loopback TCP port not in $USED
  local p
  for _ in $(seq 200); do
    p=$(( 20000 + RANDOM % (EPHEMERAL_LOW - 20000) ))
    [[ " $USED " == *" $p "* ]] && continue
    port_free "$p" && { USED+=" $p"; echo "$p"; return 0; }
  done
  die "no free port"
}

print_env() { cat "$DIR/env"; }

ready() {  # ready URL TOKEN CA
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$3" \
        -H "Authorization: Bearer $2" "$1/readyz") == 200 ]]
}

# ---- idempotency: already running and ready -> just print the env
if [[ -f $DIR/env ]] && alive "$DIR/etcd.pid" && alive "$DIR/kube-apiserver.pid"; then
  # shellcheck disable=SC1091
  ( . "$DIR/env"; ready "$KUBE_URL" "$KUBE_ADMIN_TOKEN" "$KUBE_CA" ) && { print_env; exit 0; }
fi
# half-started leftovers: stop and start again (data dir is kept)
stop_pidfile "$DIR/kube-apiserver.pid"; stop_pidfile "$DIR/etcd.pid"

USED=""
if [[ $# -ge 4 ]]; then
  ETCD_PORT=$2 PEER_PORT=$3 API_PORT=$4
  for p in "$ETCD_PORT" "$PEER_PORT" "$API_PORT"; do port_free "$p" || die "port $p busy"; done
else
  ETCD_PORT=$(pick_port); PEER_PORT=$(pick_port); API_PORT=$(pick_port)
fi

mkdir -p "$DIR/certs" "$DIR/etcd"
chmod 700 "$DIR/etcd" "$DIR/certs"

# ---- service-account key pair (RSA 2048), reused across restarts
if [[ ! -s $DIR/sa.key ]]; then
  openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
  openssl rsa -in "$DIR/sa.key" -pubout -out "$DIR/sa.pub" 2>/dev/null
  chmod 600 "$DIR/sa.key"
fi

# ---- static tokens (CSV: token,user,uid,"group1,group2"), reused across restarts
if [[ ! -s $DIR/tokens.csv ]]; then
  ADMIN_TOKEN=$(openssl rand -hex 24); LIMITED_TOKEN=$(openssl rand -hex 24)
  umask 077
  printf '%s,admin,admin-uid,"system:masters"\n%s,limited,limited-uid\n' \
    "$ADMIN_TOKEN" "$LIMITED_TOKEN" > "$DIR/tokens.csv"
  umask 022
fi
ADMIN_TOKEN=$(sed -n '1s/,.*//p' "$DIR/tokens.csv")
LIMITED_TOKEN=$(sed -n '2s/,.*//p' "$DIR/tokens.csv")

T0=$(date +%s.%N)

# ---- etcd
ETCD_URL=http://127.0.0.1:$ETCD_PORT
setsid "$ETCD" --name cairn-test --data-dir "$DIR/etcd" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "cairn-test=http://127.0.0.1:$PEER_PORT" \
  --initial-cluster-state new --force-new-cluster=false \
  --log-level warn --logger zap \
  </dev/null >"$DIR/etcd.log" 2>&1 &
echo $! > "$DIR/etcd.pid"
for i in $(seq 100); do
  curl -sf --max-time 1 "$ETCD_URL/health" >/dev/null 2>&1 && break
  alive "$DIR/etcd.pid" || { tail -n 20 "$DIR/etcd.log" >&2; die "etcd exited"; }
  sleep 0.1
  [[ $i == 100 ]] && { tail -n 20 "$DIR/etcd.log" >&2; die "etcd not healthy after 10s"; }
done

# ---- kube-apiserver
setsid "$APISERVER" \
  --etcd-servers="$ETCD_URL" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --secure-port="$API_PORT" --insecure-port=0 \
  --cert-dir="$DIR/certs" \
  --token-auth-file="$DIR/tokens.csv" \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$DIR/sa.pub" \
  --service-account-signing-key-file="$DIR/sa.key" \
  --authorization-mode=RBAC \
  --service-cluster-ip-range=10.96.0.0/16 \
  --endpoint-reconciler-type=none \
  --profiling=false \
  --v=1 \
  </dev/null >"$DIR/kube-apiserver.log" 2>&1 &
echo $! > "$DIR/kube-apiserver.pid"

KUBE_URL=https://127.0.0.1:$API_PORT
KUBE_CA=$DIR/certs/apiserver.crt
deadline=$(( $(date +%s) + READY_TIMEOUT ))
until [[ -s $KUBE_CA ]] && ready "$KUBE_URL" "$ADMIN_TOKEN" "$KUBE_CA"; do
  alive "$DIR/kube-apiserver.pid" || { tail -n 30 "$DIR/kube-apiserver.log" >&2; die "kube-apiserver exited"; }
  (( $(date +%s) < deadline )) || { tail -n 30 "$DIR/kube-apiserver.log" >&2; die "not ready after ${READY_TIMEOUT}s"; }
  sleep 0.2
done
READY_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')

# ---- kubeconfigs (admin + limited)
for who in admin limited; do
  tok=$ADMIN_TOKEN; [[ $who == limited ]] && tok=$LIMITED_TOKEN
  cat > "$DIR/kubeconfig-$who" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cairn-test
  cluster: {server: "$KUBE_URL", certificate-authority: "$KUBE_CA"}
users:
- name: $who
  user: {token: "$tok"}
contexts:
- name: cairn-test
  context: {cluster: cairn-test, user: $who}
current-context: cairn-test
EOF
  chmod 600 "$DIR/kubeconfig-$who"
done

cat > "$DIR/env" <<EOF
KUBE_URL=$KUBE_URL
KUBE_CA=$KUBE_CA
KUBE_ADMIN_TOKEN=$ADMIN_TOKEN
KUBE_LIMITED_TOKEN=$LIMITED_TOKEN
KUBECONFIG_ADMIN=$DIR/kubeconfig-admin
KUBECONFIG_LIMITED=$DIR/kubeconfig-limited
ETCD_URL=$ETCD_URL
KUBE_READY_SECONDS=$READY_S
EOF
print_env
