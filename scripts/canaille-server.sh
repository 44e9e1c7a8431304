#!/usr/bin/env bash
# Runs Canaille, a SCIM 2.0 identity server, in the foreground on loopback,
# with a fresh sqlite database in DIR and one OAuth client allowed the
# client-credentials grant. Before the server starts, DIR/canaille.env gets
# the SCIM URL, the token endpoint and the client's id and secret.
#
#   scripts/canaille-server.sh DIR PORT
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
cd "$(dirname "$0")/.."
source scripts/env.sh
dir=$1 port=$2
canaille="$CANAILLE_VENV/bin/canaille"
python="$CANAILLE_VENV/bin/python"
if [ ! -x "$canaille" ]; then
    echo "canaille-server: Canaille is not installed in $CANAILLE_VENV: run scripts/setup.sh" >&2
    exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
config="$dir/canaille.toml"
rm -f "$dir/canaille.sqlite" "$dir/canaille.env"
random() { "$python" -c "import secrets; print(secrets.token_urlsafe($1))"; }
jwk=$(cd "$dir" && CANAILLE_CONFIG=/dev/null "$canaille" jwk create rsa --format toml 2>/dev/null)
cat > "$config" <<TOML
SECRET_KEY = "$(random 32)"
SERVER_NAME = "127.0.0.1:$port"
PREFERRED_URL_SCHEME = "http"
DEBUG = false

[CANAILLE]
NAME = "Cairn test"
DATABASE = "sql"
FORCE_HTTPS = false
ENABLE_PASSWORD_COMPROMISSION_CHECK = false
CAPTCHA_ENABLED = false

[CANAILLE_SQL]
DATABASE_URI = "sqlite:///$dir/canaille.sqlite"

[CANAILLE_OIDC]
ACTIVE_JWKS = [$jwk]

[CANAILLE_SCIM]
ENABLE_SERVER = true
ENABLE_CLIENT = false
TOML
export CANAILLE_CONFIG="$config"
cd "$dir"
"$canaille" db upgrade > "$dir/db-upgrade.log" 2>&1 || true
client_id="cairn-$(random 6)"
client_secret=$(random 32)
"$canaille" create client \
    --client-id "$client_id" --client-secret "$client_secret" \
    --client-name "Cairn" --client-id-issued-at "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" \
    --grant-types client_credentials \
    --token-endpoint-auth-method client_secret_basic \
    --response-types token \
    --scope openid --scope profile > "$dir/client.json"
cat > "$dir/canaille.env.tmp" <<ENV
CANAILLE_SCIM_URL=http://127.0.0.1:$port/scim/v2
CANAILLE_TOKEN_URL=http://127.0.0.1:$port/oauth/token
CANAILLE_CLIENT_ID=$client_id
CANAILLE_CLIENT_SECRET=$client_secret
ENV
mv "$dir/canaille.env.tmp" "$dir/canaille.env"
exec "$canaille" run --bind "127.0.0.1:$port"
