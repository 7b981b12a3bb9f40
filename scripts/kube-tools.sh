#!/usr/bin/env bash
# Builds the real Kubernetes parts Clew's Kubernetes tests run against, once per machine, into a
# cache outside the checkout:
#   kube-apiserver, kube-controller-manager, kubectl  from k8s.io/kubernetes at KUBE_VERSION
#                                                     (every k8s.io/* staging module pinned by a
#                                                     replace line to the matching v0.x.y)
#   etcd                                              from go.etcd.io/etcd/server/v3 at ETCD_VERSION
#   helm                                              from helm.sh/helm/v3 at HELM_VERSION
# Usage: scripts/kube-tools.sh [build|dir]   (build is the default; prints the bin directory)
# Environment: CLEW_KUBE_CACHE (default /opt/clew/kube). The Go module and build caches live
# under it too, so nothing is written into the checkout. Concurrent callers wait on one lock.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
CACHE="${CLEW_KUBE_CACHE:-/opt/clew/kube}"
KEY="kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_helm-${HELM_VERSION}"
BIN="$CACHE/$KEY/bin"
TOOLS=(kube-apiserver kube-controller-manager kubectl etcd helm)

have_all() { for t in "${TOOLS[@]}"; do [ -x "$BIN/$t" ] || return 1; done; }

case "${1:-build}" in
  dir) echo "$BIN"; exit 0 ;;
  build) ;;
  *) echo "usage: $0 [build|dir]" >&2; exit 2 ;;
esac

if have_all; then echo "$BIN"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "kube-tools: go is not installed (needed to build kube-apiserver)" >&2; exit 1; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9
if have_all; then echo "$BIN"; exit 0; fi

export GOMODCACHE="$CACHE/go-mod" GOCACHE="$CACHE/go-build" GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0 GOTOOLCHAIN=local
SRC="$CACHE/$KEY/src"
mkdir -p "$BIN" "$SRC"
log() { echo "kube-tools: $*" >&2; }

build_kube() {
  local dir="$SRC/kubernetes" minor major
  major="${KUBE_VERSION#v}"; major="${major%%.*}"
  minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
  local staging="v0.${minor}.${KUBE_VERSION##*.}"
  mkdir -p "$dir" && cd "$dir"
  # the staging modules are the k8s.io/* requirements that k8s.io/kubernetes lists at v0.0.0
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || { log "no go.mod for k8s.io/kubernetes@$KUBE_VERSION"; return 1; }
  {
    echo "module clew.local/kube-tools"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    grep -oE '^[[:space:]]*k8s\.io/[a-z0-9./-]+ v0\.0\.0([[:space:]]|$)' "$gomod" | awk '{print $1}' | sort -u |
      while read -r m; do echo "	$m => $m $staging"; done
    echo ")"
  } > go.mod
  log "building kube-apiserver, kube-controller-manager, kubectl $KUBE_VERSION (staging modules at $staging)"
  local pkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
  go get "${pkgs[@]/%/@$KUBE_VERSION}" >/dev/null
  local date ver ldflags=""
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  go build -trimpath -ldflags "-s -w$ldflags" -o "$BIN/" "${pkgs[@]}"
}

build_etcd() {
  local dir="$SRC/etcd"
  mkdir -p "$dir" && cd "$dir"
  printf 'module clew.local/etcd-tools\n\ngo 1.24\n' > go.mod
  log "building etcd $ETCD_VERSION"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
}

build_helm() {
  local dir="$SRC/helm"
  mkdir -p "$dir" && cd "$dir"
  printf 'module clew.local/helm-tools\n\ngo 1.24\n' > go.mod
  log "building helm $HELM_VERSION"
  go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >/dev/null
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$BIN/helm" helm.sh/helm/v3/cmd/helm
}

start=$(date +%s)
[ -x "$BIN/etcd" ] || build_etcd
[ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kubectl" ] || build_kube
[ -x "$BIN/helm" ] || build_helm
log "built in $(( $(date +%s) - start )) s into $BIN"
echo "$BIN"
