#!/usr/bin/env bash
# Builds kube-apiserver v1.20.2 from Debian bookworm's `kubernetes`
# source package (1.20.5+really1.20.2, vendored Go deps) with Debian's golang-go.
# Idempotent: exits early when $OUT already reports the expected version.
#   Output : /var/tmp/cairn-kube/kube-apiserver  (+ kubectl-1.20 from kubernetes-client)
#   Work   : /var/tmp/cairn-kube-build  (private apt lists, source, GOPATH, go cache)
# Never touches /etc/apt/sources.list*: deb-src comes from a private list file.
set -euo pipefail

WORK=${WORK:-/var/tmp/cairn-kube-build}
OUTDIR=${OUTDIR:-/var/tmp/cairn-kube}
OUT=$OUTDIR/kube-apiserver
WANT_VERSION="Kubernetes v1.20.2"
SRCPKG=kubernetes
SRCDIR_NAME=kubernetes-1.20.5+really1.20.2
MIRROR=${MIRROR:-}

log() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ -x $OUT && -x $OUTDIR/kubectl-1.20 ]] && [[ "$("$OUT" --version 2>/dev/null)" == "$WANT_VERSION" ]] && [[ ${FORCE:-0} != 1 ]]; then
  log "$OUT already present: $("$OUT" --version)"; exit 0
fi
[[ $(id -u) == 0 ]] || { echo "must run as root (apt-get)" >&2; exit 1; }
T0=$(date +%s)
mkdir -p "$WORK"/{etc,lists/partial,gopath/src/k8s.io,gocache} "$OUTDIR"

# 1. mirror: reuse the one configured for bookworm in /etc/apt (deb822 or one-line)
if [[ -z $MIRROR ]]; then
  MIRROR=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  [[ -n $MIRROR ]] || MIRROR=$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
             | grep -E '\sbookworm\s' | grep -oE 'https?://[^ ]+' | grep -E '/debian/?$' | head -n1 || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${MIRROR%/} bookworm main" > "$WORK/etc/sources.list"
APTOPTS=(-o Dir::Etc::SourceList="$WORK/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o Dir::State::Lists="$WORK/lists")

# 2. build deps (system apt config; needs a prior `apt-get update` of the normal lists)
need=()
for p in golang-go rsync jq golang-github-modern-go-reflect2-dev etcd-server openssl dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

cd "$WORK"
# 3. source package (private lists only)
if ! ls ${SRCPKG}_*.dsc >/dev/null 2>&1; then
  log "apt-get update (private deb-src list) + apt-get source --download-only $SRCPKG"
  apt-get "${APTOPTS[@]}" update >/dev/null
  apt-get "${APTOPTS[@]}" source --download-only "$SRCPKG" >/dev/null 2>&1
fi
if [[ ! -d $SRCDIR_NAME ]]; then
  log "dpkg-source -x"
  dpkg-source -x ${SRCPKG}_*.dsc "$SRCDIR_NAME" >/dev/null
fi
SRC=$WORK/$SRCDIR_NAME

# 4. reflect2 1.0.1 (vendored) faults in mapiterinit under Go >= 1.18: swap in Debian's 1.0.2
R2=/usr/share/gocode/src/github.com/modern-go/reflect2
if [[ ! -f $SRC/vendor/github.com/modern-go/reflect2/go_above_118.go ]]; then
  log "replacing vendored modern-go/reflect2 with $R2 (1.0.2)"
  rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
  mkdir -p "$SRC/vendor/github.com/modern-go/reflect2"
  cp -rL "$R2"/. "$SRC/vendor/github.com/modern-go/reflect2/"
  rm -f "$SRC/vendor/github.com/modern-go/reflect2/go.mod" "$SRC/vendor/github.com/modern-go/reflect2"/*_test.go
fi

# 5. kubectl 1.20 from kubernetes-client (extracted only: its /usr/bin/kubectl may clash
#    with another installed kubectl package, so it is not installed system-wide)
if [[ ! -x $OUTDIR/kubectl-1.20 ]]; then
  ( apt-get download kubernetes-client >/dev/null 2>&1 && rm -rf kc && mkdir kc &&
    dpkg-deb -x kubernetes-client_*.deb kc && cp kc/usr/bin/kubectl "$OUTDIR/kubectl-1.20" ) \
    || log "kubernetes-client not available (optional)"
fi

# 6. GOPATH layout + make
export GOPATH=$WORK/gopath GOCACHE=${GOCACHE:-$WORK/gocache} CGO_ENABLED=0 HOME=${HOME:-/root}
ln -sfn "$SRC" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
log "make WHAT=cmd/kube-apiserver ($(go version))"
make WHAT=cmd/kube-apiserver > "$WORK/make.log" 2>&1 || { tail -n 40 "$WORK/make.log"; exit 1; }
install -m 0755 _output/bin/kube-apiserver "$OUT"
log "built $OUT: $("$OUT" --version) in $(( $(date +%s) - T0 ))s"
