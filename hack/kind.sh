#!/usr/bin/env bash
# A single-node kind cluster for the e2e tests and the demo.
#   kind.sh up              create (or reuse) the cluster, wait for the node and CoreDNS,
#                           print KUBECONFIG=<path> and KUBECTL=<path> on stdout
#   kind.sh status          print running or absent
#   kind.sh down            delete it
#   kind.sh load IMAGE...   `kind load docker-image` into the node
#   kind.sh kubeconfig      print the kubeconfig path
# Offline by default: the node image comes from hack/kind-node-image.sh (built locally,
# control-plane images preloaded, plain ptp CNI instead of kindnetd). With
# HYBRIDSTREAM_STOCK_IMAGES=1 kind uses its stock kindest/node image and default CNI
# (needs internet). HYBRIDSTREAM_KIND_CLUSTER names the cluster (default hybridstream).
# ptp does not enforce NetworkPolicies: hack.stack.cluster_up deploys kube-network-policies
# (hack/netpol.sh) on the offline cluster; kind's stock kindnetd embeds the same agent.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER="${HYBRIDSTREAM_KIND_CLUSTER:-hybridstream}"
KUBECONFIG_PATH="${HYBRIDSTREAM_KUBECONFIG:-$CACHE_DIR/kind-$CLUSTER.kubeconfig}"
STOCK="${HYBRIDSTREAM_STOCK_IMAGES:-0}"
READY_TIMEOUT=300

tools() {
  eval "$(bash "$HACK_DIR/build-kube.sh" kind kube)"
  KIND="$KIND_BIN/kind"
  KUBECTL=("$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH")
}

node_image() {
  if [[ "$STOCK" == 1 ]]; then echo ""; return; fi
  bash "$HACK_DIR/kind-node-image.sh" | sed -n 's/^NODE_IMAGE=//p'
}

cluster_config() {
  local disable_cni=true
  [[ "$STOCK" == 1 ]] && disable_cni=false
  cat <<CFG
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  # The offline node image ships a ptp CNI config for its pod CIDR instead of kindnetd
  # (whose image would have to be pulled).
  disableDefaultCNI: $disable_cni
  podSubnet: 10.244.0.0/16
nodes:
  - role: control-plane
CFG
}

cluster_exists() { "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; }
node_container() { echo "$CLUSTER-control-plane"; }

# A cluster is reused only if its node runs the wanted image and the API answers.
reusable() {
  local want="$1" node; node=$(node_container)
  [[ "$(docker inspect -f '{{.State.Running}}' "$node" 2>/dev/null)" == true ]] || return 1
  if [[ -n "$want" ]]; then
    [[ "$(docker inspect -f '{{.Config.Image}}' "$node")" == "$want" ]] || return 1
  fi
  "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_PATH" 2>/dev/null || return 1
  "${KUBECTL[@]}" get --raw /readyz >/dev/null 2>&1
}

wait_ready() {
  "${KUBECTL[@]}" wait --for=condition=Ready node --all --timeout="${READY_TIMEOUT}s" >&2
  "${KUBECTL[@]}" -n kube-system rollout status deployment/coredns --timeout="${READY_TIMEOUT}s" >&2
}

up() {
  bash "$HACK_DIR/docker.sh" up
  tools
  local image; image=$(node_image)
  if cluster_exists && ! reusable "$image"; then
    log "cluster $CLUSTER exists but is stale or unhealthy: recreating"
    "$KIND" delete cluster --name "$CLUSTER" >&2
  fi
  if ! cluster_exists; then
    local args=(create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_PATH" --wait "${READY_TIMEOUT}s" --config -)
    [[ -n "$image" ]] && args+=(--image "$image")
    cluster_config | with_progress "kind create cluster $CLUSTER" "$KIND" "${args[@]}" >&2
    # A replaced cluster kept its old node image (1 GB) in use until now: prune it.
    [[ -n "$image" ]] && node_image >/dev/null
  fi
  wait_ready
  echo "KUBECONFIG=$KUBECONFIG_PATH"
  echo "KUBECTL=${KUBECTL[0]}"
}

main() {
  local cmd="${1:-up}"; shift || true
  case "$cmd" in
    up) up ;;
    down) tools; "$KIND" delete cluster --name "$CLUSTER" >&2; rm -f "$KUBECONFIG_PATH" ;;
    load)
      (( $# )) || die "usage: kind.sh load IMAGE..."
      tools; "$KIND" load docker-image --name "$CLUSTER" "$@" >&2 ;;
    kubeconfig) echo "$KUBECONFIG_PATH" ;;
    status)
      if [[ "$(docker inspect -f '{{.State.Running}}' "$(node_container)" 2>/dev/null)" == true ]]; then
        echo running
      else
        echo absent
      fi ;;
    *) die "usage: kind.sh up|down|status|load IMAGE...|kubeconfig" ;;
  esac
}
main "$@"
