#!/usr/bin/env bash
# The quickstart: Cairn reads a Git repository of DNS resources, shows a
# plan, applies it to a real PowerDNS server on loopback, and `dig` answers
# with the records from Git; then a new commit changes them, and the plan,
# the apply and the history show exactly that change.
#
# With `--identity`, Canaille (a SCIM 2.0 identity server) runs beside
# PowerDNS and the same repository declares users and a group as well.
#
# The desired state and the operator's file come from examples/quickstart/
# (a test applies them too). Everything the run makes lives in one folder
# (printed at the start; set CAIRN_QUICKSTART_DIR to choose it). The
# servers are stopped at the end, unless you run this on a terminal and
# choose to keep them.
set -euo pipefail
identity=false
for arg in "$@"; do
    case "$arg" in
        --identity) identity=true ;;
        *) echo "usage: $0 [--identity]" >&2; exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/env.sh

bold=$'\e[1m' dim=$'\e[2m' reset=$'\e[0m'
if [ ! -t 1 ]; then bold="" dim="" reset=""; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$reset"; "$@"; }

say "Installing what is missing and building Cairn and its plugins"
scripts/setup.sh --without-kube
scripts/build.sh
cairn="$CARGO_TARGET_DIR/debug/cairn"
# The repository and the operator's file the quickstart applies.
example="$root/examples/quickstart"

work=${CAIRN_QUICKSTART_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-quickstart.XXXXXX")}
mkdir -p "$work"
cd "$work"
echo "Working in $work"

say "Starting PowerDNS on free loopback ports"
read -r dns_port api_port < <(python3 -c '
import socket
ports = []
sockets = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); sockets.append(s); ports.append(s.getsockname()[1])
print(*ports)')
export PDNS_API_KEY="quickstart-$RANDOM$RANDOM"
"$root/scripts/pdns-server.sh" "$work/pdns" "$dns_port" "$api_port" "$PDNS_API_KEY" > "$work/pdns.log" 2>&1 &
pdns_pid=$!
canaille_pid=""
stop_servers() {
    kill "$pdns_pid" 2>/dev/null || true
    wait "$pdns_pid" 2>/dev/null || true
    # Canaille runs in its own process group, with its workers.
    if [ -n "$canaille_pid" ]; then kill -- "-$canaille_pid" 2>/dev/null || true; fi
}
trap stop_servers EXIT
python3 - "$api_port" "$PDNS_API_KEY" <<'PY'
import sys, time, urllib.request
port, key = sys.argv[1], sys.argv[2]
deadline = time.time() + 20
while True:
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/servers/localhost", headers={"X-API-Key": key})
        urllib.request.urlopen(request, timeout=1)
        break
    except Exception:
        if time.time() > deadline:
            sys.exit("PowerDNS did not start; see pdns.log")
        time.sleep(0.1)
PY
echo "PowerDNS answers DNS on 127.0.0.1:$dns_port and its API on 127.0.0.1:$api_port"

if $identity; then
    say "Starting Canaille, a SCIM 2.0 identity server, on a free loopback port"
    idp_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    setsid "$root/scripts/canaille-server.sh" "$work/canaille" "$idp_port" > "$work/canaille.log" 2>&1 &
    canaille_pid=$!
    python3 - "$work/canaille/canaille.env" <<'PY'
import sys, time, urllib.request, urllib.error
deadline = time.time() + 60
while True:
    try:
        env = dict(line.split("=", 1) for line in open(sys.argv[1]).read().split())
        urllib.request.urlopen(env["CANAILLE_TOKEN_URL"].replace("/oauth/token", "/.well-known/openid-configuration"), timeout=1)
        break
    except (OSError, KeyError, ValueError):
        if time.time() > deadline:
            sys.exit("Canaille did not start; see canaille.log")
        time.sleep(0.2)
PY
    set -a; source "$work/canaille/canaille.env"; set +a
    export IDP_CLIENT_ID=$CANAILLE_CLIENT_ID IDP_CLIENT_SECRET=$CANAILLE_CLIENT_SECRET
    export ALICE_PASSWORD="quickstart-$RANDOM-$RANDOM"
    echo "Canaille serves SCIM at $CANAILLE_SCIM_URL"
fi

say "Writing the desired state into a Git repository"
rm -rf zones && mkdir zones && cd zones
git init --quiet --initial-branch=main
cp "$example/first-commit/example.toml" .
git add example.toml
if $identity; then
    cp "$example/first-commit/people.toml" .
    git add people.toml
fi
git -c user.name="Ada Lovelace" -c user.email=ada@example.org commit --quiet -m "Add example.org"
cd ..
cat zones/*.toml

# The placeholders of the example's cairn.toml, filled in for this run.
fill() {
    sed -e "s|@PLUGIN_DIR@|$PLUGIN_DIR|g" \
        -e "s|@PDNS_URL@|http://127.0.0.1:$api_port|g" \
        -e "s|@IDP_URL@|http://127.0.0.1:${idp_port:-}|g" \
        -e "s|@SCIM_URL@|${CANAILLE_SCIM_URL:-}|g" \
        -e "s|@TOKEN_URL@|${CANAILLE_TOKEN_URL:-}|g" "$@"
}
fill "$example/cairn.toml" > cairn.toml
if $identity; then
    fill "$example/cairn.identity.toml" >> cairn.toml
fi
say "The operator's cairn.toml"
cat cairn.toml

say "Validating, planning and applying"
run "$cairn" validate
run "$cairn" plan || [ $? -eq 2 ]
run "$cairn" apply --yes

say "PowerDNS now answers what Git says"
run dig @127.0.0.1 -p "$dns_port" +short www.example.org A
run dig @127.0.0.1 -p "$dns_port" +short example.org MX
run dig @127.0.0.1 -p "$dns_port" +short example.org TXT

if $identity; then
    say "Canaille now has the users and the group from Git"
    python3 - <<'PY'
import base64, json, os, urllib.request
basic = base64.b64encode(f"{os.environ['IDP_CLIENT_ID']}:{os.environ['IDP_CLIENT_SECRET']}".encode()).decode()
request = urllib.request.Request(os.environ["CANAILLE_TOKEN_URL"], data=b"grant_type=client_credentials", headers={"Authorization": f"Basic {basic}"})
token = json.load(urllib.request.urlopen(request))["access_token"]
def get(path):
    request = urllib.request.Request(os.environ["CANAILLE_SCIM_URL"] + path, headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))["Resources"]
for user in get("/Users"):
    print(f"  user  {user['userName']:<8} active={user['active']}  {user.get('displayName', '')}")
for group in get("/Groups"):
    print(f"  group {group['displayName']:<8} members={[m['value'] for m in group.get('members', [])]}")
PY
fi

say "A second plan finds nothing to do"
run "$cairn" plan

say "A new commit: move www, add api"
cd zones
cp "$example/second-commit/example.toml" .
git -c user.name="Grace Hopper" -c user.email=grace@example.org commit --quiet -am "Move www, add api"
cd ..
run "$cairn" plan || [ $? -eq 2 ]
run "$cairn" apply --yes
run dig @127.0.0.1 -p "$dns_port" +short www.example.org A
run dig @127.0.0.1 -p "$dns_port" +short api.example.org A

say "Who changed what, from which commit, with what result"
run "$cairn" history

if [ -t 0 ] && [ -t 1 ]; then
    printf '\nThe servers are still running. Try, in %s:\n' "$work"
    printf '  PDNS_API_KEY=%s %s plan\n' "$PDNS_API_KEY" "$cairn"
    printf '  dig @127.0.0.1 -p %s www.example.org\n' "$dns_port"
    read -r -p "Press Enter to stop the servers. " _ || true
fi
say "Done. Everything is in $work"
