#!/usr/bin/env bash
# The e2e/demo stack, shared by tests/e2e (fixtures) and hack/demo.sh:
#   e2e-stack.sh images        kind cluster up, our stream/operator images and the Prometheus
#                              and Alertmanager images built and `kind load`ed; prints
#                              KUBECONFIG=, KUBECTL=, HELM=, STREAM_IMAGE=, STREAM_IMAGE_V2=
#                              (the same code with another version label, a second revision),
#                              OPERATOR_IMAGE=, PROMETHEUS_IMAGE=, ALERTMANAGER_IMAGE=
#   e2e-stack.sh render FILE.. an example's manifests with the loaded images (env NAMESPACE)
#   e2e-stack.sh deploy NS     in namespace NS: the simulator and Prometheus with the chart's
#                              alerting rules (examples/04-local-simulator; env
#                              DISCONNECTED_CRITICAL_SECONDS, default 4), the operator
#                              chart (release hs-NS, watching NS only) and Alertmanager posting
#                              to the operator's webhook, each waited for until available
# Everything is cached/idempotent: a warm `images` takes a few seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EXAMPLE="$REPO_DIR/examples/04-local-simulator"
CHART="$REPO_DIR/charts/hybridstream-operator"
WAIT=240s

# NAME=VALUE lines of a hack script's stdout, exported into this shell.
import_vars() { local line; while IFS= read -r line; do [[ "$line" == *=* ]] && export "${line?}"; done; }

images() {
  import_vars < <(bash "$HACK_DIR/kind.sh" up)
  import_vars < <(bash "$HACK_DIR/images/build.sh")
  import_vars < <(bash "$HACK_DIR/images/monitoring.sh")
  local helm; helm=$(bash "$HACK_DIR/build-kube.sh" helm | sed -n 's/^HELM_BIN=//p')
  with_progress "kind load (stream v1 and v2, operator, prometheus, alertmanager images)" \
    bash "$HACK_DIR/kind.sh" load "$STREAM_IMAGE" "$STREAM_IMAGE_V2" "$OPERATOR_IMAGE" \
      "$PROMETHEUS_IMAGE" "$ALERTMANAGER_IMAGE"
  echo "KUBECONFIG=$KUBECONFIG"
  echo "KUBECTL=$KUBECTL"
  echo "HELM=$helm/helm"
  echo "STREAM_IMAGE=$STREAM_IMAGE"
  echo "STREAM_IMAGE_V2=$STREAM_IMAGE_V2"
  echo "OPERATOR_IMAGE=$OPERATOR_IMAGE"
  echo "PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"
  echo "ALERTMANAGER_IMAGE=$ALERTMANAGER_IMAGE"
}

# The example manifests with the placeholder images replaced by the loaded ones and the
# NAMESPACE placeholder (Prometheus' targets and namespace label, the operator's release
# hs-NAMESPACE) by $NAMESPACE.
render() {
  local ns="${NAMESPACE:-default}"
  sed -e "s#\.NAMESPACE\.svc#.$ns.svc#g" -e "s#hs-NAMESPACE-#hs-$ns-#g" \
      -e "s#replacement: NAMESPACE}#replacement: $ns}#g" \
      -e "s#image: hybridstream/stream:local#image: $STREAM_IMAGE#" \
      -e "s#image: hybridstream/prometheus:local#image: $PROMETHEUS_IMAGE#" \
      -e "s#image: hybridstream/alertmanager:local#image: ${ALERTMANAGER_IMAGE:-hybridstream/alertmanager:local}#" \
      < <(for f in "$@"; do echo "---"; cat "$f"; done)
}

# The chart's own PrometheusRule (the seed plan's alerts) as a plain Prometheus rules file:
# Debian's Prometheus has no prometheus-operator to load the CRD. The critical socket-down
# threshold is 4 s, so a fault rolls back at once (DISCONNECTED_CRITICAL_SECONDS=120 keeps
# the chart's default, for production).
alert_rules() {
  "$HELM" template "hs-$1" "$CHART" -n "$1" --show-only templates/prometheusrule.yaml \
    --set monitoring.prometheusRule.enabled=true \
    --set monitoring.prometheusRule.thresholds.disconnectedCriticalSeconds="${DISCONNECTED_CRITICAL_SECONDS:-4}" \
    | sed -n '/^spec:/,$p' | tail -n +2 | sed 's/^  //'
}

deploy() {
  local ns="${1:?usage: e2e-stack.sh deploy NAMESPACE}"
  for v in KUBECONFIG KUBECTL HELM STREAM_IMAGE OPERATOR_IMAGE PROMETHEUS_IMAGE ALERTMANAGER_IMAGE; do
    [[ -n "${!v:-}" ]] || die "$v is not set: run 'e2e-stack.sh images' first and export its output"
  done
  local k=("$KUBECTL" --kubeconfig "$KUBECONFIG" -n "$ns")
  "$KUBECTL" --kubeconfig "$KUBECONFIG" create namespace "$ns" --dry-run=client -o yaml \
    | "$KUBECTL" --kubeconfig "$KUBECONFIG" apply -f - >&2
  log "deploy simulator and prometheus (with the chart's alerting rules) into $ns"
  local rules; rules=$(mktemp); alert_rules "$ns" >"$rules"
  grep -q '^groups:' "$rules" || die "no alerting rules rendered from the chart"
  "${k[@]}" create configmap prometheus-rules --from-file=hybridstream.yml="$rules" \
    --dry-run=client -o yaml | "${k[@]}" apply -f - >&2
  rm -f "$rules"
  NAMESPACE="$ns" render "$EXAMPLE/simulator.yaml" "$EXAMPLE/prometheus.yaml" | "${k[@]}" apply -f - >&2
  log "helm install hs-$ns (operator image $OPERATOR_IMAGE)"
  "$HELM" --kubeconfig "$KUBECONFIG" upgrade --install "hs-$ns" "$CHART" -n "$ns" \
    --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE##*:}" \
    --set image.pullPolicy=IfNotPresent --set operator.reconcileInterval=1 >&2
  # Alertmanager reads the operator's webhook token from the Secret the chart created.
  log "deploy alertmanager (posting to hs-$ns's webhook) into $ns"
  NAMESPACE="$ns" render "$EXAMPLE/alertmanager.yaml" | "${k[@]}" apply -f - >&2
  for d in simulator prometheus "hs-$ns-hybridstream-operator" alertmanager; do
    with_progress "rollout status deployment/$d" "${k[@]}" rollout status "deployment/$d" --timeout="$WAIT" >&2
  done
}

main() {
  case "${1:-}" in
    images) images ;;
    deploy) shift; deploy "$@" ;;
    render) shift; render "$@" ;;
    *) die "usage: e2e-stack.sh images | deploy NAMESPACE | render FILE..." ;;
  esac
}
main "$@"
