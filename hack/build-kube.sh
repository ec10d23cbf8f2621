#!/usr/bin/env bash
# Builds Kubernetes control-plane binaries, etcd, kwok/kwokctl, kind and helm from Go
# modules (this machine reaches the Go module proxy but no release download host).
# Idempotent: each tool lands in $CACHE_DIR/<tool>-<version>/ and is skipped when present.
# Prints the bin directory of each on stdout as NAME=PATH lines.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
[[ -n "${KUBE_EXTRA_COMPONENTS:-}" ]] && read -r -a extra <<<"$KUBE_EXTRA_COMPONENTS" && KUBE_COMPONENTS+=("${extra[@]}")

# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces every k8s.io/<staging>
# module with ./staging/src/... So a wrapper module requires it and replaces each staging
# module with its published v0.X.Y twin (the scheduler-plugins / sealos approach).
kube_wrapper() {
  local dir="$1" kv="$KUBE_VERSION" sv="v0.${KUBE_VERSION#v1.}"
  mkdir -p "$dir"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$kv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module hybridstream.local/kubebuild"
    echo
    grep -E '^go [0-9.]+' "$gomod" | head -1
    echo
    echo "require k8s.io/kubernetes $kv"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" \
      | awk -v sv="$sv" '{print "replace " $1 " => " $1 " " sv}'
  } >"$dir/go.mod"
  # Keep the kubernetes module's godebug defaults (they change apiserver behaviour).
  sed -n '/^godebug/,/^)/p' "$gomod" >>"$dir/go.mod" || true
}

build_kube() {
  local out="$CACHE_DIR/kubernetes-$KUBE_VERSION"
  local todo=()
  for c in "${KUBE_COMPONENTS[@]}"; do [[ -x "$out/bin/$c" ]] || todo+=("$c"); done
  if (( ${#todo[@]} == 0 )); then echo "KUBE_BIN=$out/bin"; return; fi
  local src="$out/src"
  kube_wrapper "$src"
  local commit; commit=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Origin",{}).get("Hash",""))')
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$out/bin"
  (cd "$src" && with_progress "go mod tidy (kubernetes $KUBE_VERSION)" go get "k8s.io/kubernetes@$KUBE_VERSION")
  for c in "${todo[@]}"; do
    (cd "$src" && with_progress "go build $c $KUBE_VERSION" \
      env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ld" -o "$out/bin/$c.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$out/bin/$c.tmp" "$out/bin/$c"
  done
  echo "KUBE_BIN=$out/bin"
}

build_etcd() {
  local out="$CACHE_DIR/etcd-$ETCD_VERSION"
  if [[ ! -x "$out/bin/etcd" ]]; then
    local src="$out/src"; mkdir -p "$src" "$out/bin"
    printf 'module hybridstream.local/etcdbuild\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$src/go.mod"
    (cd "$src" && with_progress "go get etcd $ETCD_VERSION" go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
      && with_progress "go build etcd $ETCD_VERSION" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3) \
      && mv "$out/bin/etcd.tmp" "$out/bin/etcd"
  fi
  echo "ETCD_BIN=$out/bin"
}

# Plain `go install` works for tools without staging replaces. LDFLAGS (env) carries the
# -X flags a tool needs for a right `version`; a build with other flags is redone.
go_install() {
  local name="$1" version="$2"; shift 2
  local out="$CACHE_DIR/$name-$version" flags="-s -w ${LDFLAGS:-}"
  local missing=0
  for pkg in "$@"; do [[ -x "$out/bin/$(basename "${pkg%@*}")" ]] || missing=1; done
  [[ "$(cat "$out/.ldflags" 2>/dev/null)" == "$flags" ]] || missing=1
  if (( missing )); then
    mkdir -p "$out/bin"
    for pkg in "$@"; do
      with_progress "go install $pkg@$version" env GOBIN="$out/bin" CGO_ENABLED=0 \
        go install -trimpath -ldflags "$flags" "$pkg@$version"
    done
    echo "$flags" >"$out/.ldflags"
  fi
  echo "$(echo "$name" | tr 'a-z-' 'A-Z_')_BIN=$out/bin"
}

main() {
  local what=("$@")
  (( ${#what[@]} )) || what=(kube etcd kwok kind helm)
  for w in "${what[@]}"; do
    case "$w" in
      kube) build_kube ;;
      etcd) build_etcd ;;
      kwok) go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl ;;
      kind) go_install kind "$KIND_VERSION" sigs.k8s.io/kind ;;
      # helm's own Makefile sets its version this way; without it `helm version` says "v3.19".
      helm) LDFLAGS="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
              go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
      *) die "unknown tool: $w" ;;
    esac
  done
}
main "$@"
