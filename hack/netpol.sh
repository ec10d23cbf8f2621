#!/usr/bin/env bash
# Builds the NetworkPolicy agent of the offline kind cluster: sigs.k8s.io/kube-network-policies
# (the agent kind's kindnetd embeds) from its Go module, with hack/images/kube-network-policies/
# nfqueue-xt.patch applied (our kernel has no nft_queue, see the patch), packaged FROM scratch
# as hybridstream/kube-network-policies:<version>-<key>. The binary is cached in
# $CACHE_DIR/kube-network-policies-<version>-<patch key>; a warm run builds nothing.
# Prints NETPOL_IMAGE=<ref>. hack.stack.cluster_up loads and deploys it (install.yaml there).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=sigs.k8s.io/kube-network-policies
VERSION="$KUBE_NETWORK_POLICIES_VERSION"
IMAGE_DIR="$HACK_DIR/images/kube-network-policies"

patch_key() { cat "$IMAGE_DIR/nfqueue-xt.patch" | sha256sum | cut -c1-10; }

# The module's source is read-only in the module cache: build a patched copy with the
# module's own go.mod/go.sum (its pinned dependencies, checked against the sum database).
build_binary() {
  local out; out="$CACHE_DIR/kube-network-policies-$VERSION-$(patch_key)"
  if [[ ! -x "$out/bin/netpol" ]]; then
    local src; src=$(go mod download -json "$MODULE@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    rm -rf "$out/src" && mkdir -p "$out/bin"
    cp -r "$src" "$out/src" && chmod -R u+w "$out/src"
    patch -s -p1 -d "$out/src" <"$IMAGE_DIR/nfqueue-xt.patch" || die "nfqueue-xt.patch does not apply to $MODULE@$VERSION"
    (cd "$out/src" && with_progress "go build kube-network-policies $VERSION" env CGO_ENABLED=0 \
      go build -trimpath -ldflags "-s -w" -o "$out/bin/netpol.tmp" ./cmd)
    mv "$out/bin/netpol.tmp" "$out/bin/netpol"
    rm -rf "$out/src"
  fi
  echo "$out/bin/netpol"
}

main() {
  bash "$HACK_DIR/docker.sh" up
  local key; key=$({ echo "$VERSION"; cat "$IMAGE_DIR/Dockerfile" "$IMAGE_DIR/nfqueue-xt.patch"; } | sha256sum | cut -c1-10)
  local ref="hybridstream/kube-network-policies:$VERSION-$key"
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    local bin; bin=$(build_binary)
    local ctx; ctx=$(mktemp -d)
    cp "$bin" "$ctx/netpol"
    DOCKER_BUILDKIT=0 docker build -q --force-rm -f "$IMAGE_DIR/Dockerfile" -t "$ref" "$ctx" >/dev/null \
      || { rm -rf "$ctx"; die "docker build $ref failed"; }
    rm -rf "$ctx"
    # Tags of earlier versions or patches only fill the disk (a running node keeps its copy).
    docker images --format '{{.Repository}}:{{.Tag}}' hybridstream/kube-network-policies \
      | grep -vx "$ref" | xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  echo "NETPOL_IMAGE=$ref"
}
main "$@"
