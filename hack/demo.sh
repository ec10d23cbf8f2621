#!/usr/bin/env bash
# `make demo`: a local kind cluster, the operator chart, and two rollouts of the Bybit
# stream against the in-cluster simulator, shown live with `kubectl hsr get --watch`:
#   1. positions walks Canary → Parallel → Cutover 50 % → 100 % → Production, and legacy is
#      retired;
#   2. the rollout again, with a fault injected mid-cutover (the simulator drops the private
#      sockets and refuses re-auth): the rollout's Prometheus analysis, or the chart's
#      HybridStreamDisconnectedCritical alert posted by Alertmanager to the operator's
#      webhook, whichever is first, rolls it back to legacy (the last line says which).
# Then, on this machine (no cluster), the trailing-stop consumer follows legacy (1 s and 5 s
# polls) and hybrid streams through scripted price crossings and prints the activation
# delays it saw (bench/bench_trailing_stop.py --summary, about 1 min).
# Builds whatever is missing first (the same hack/e2e-stack.sh the e2e tests use; a cold
# machine takes 20-30 min for Kubernetes, a warm one seconds). Bounded: every wait has a
# deadline; exits 0 when both rollouts ended as expected. The namespace stays for you to
# explore (kubectl hsr history positions); DEMO_NAMESPACE names it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS="${DEMO_NAMESPACE:-hybridstream-demo}"
ROLLOUT=positions
EXAMPLE="$REPO_DIR/examples/04-local-simulator"
PHASE_TIMEOUT=300
START=$SECONDS

step() { printf '\n\033[1m==> [%3d s] %s\033[0m\n' "$((SECONDS - START))" "$*" >&2; }

k() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

phase() { k -n "$NS" get hsr "$ROLLOUT" -o jsonpath='{.status.phase}' 2>/dev/null || true; }

# Waits until `phase` prints one of the wanted phases (and `extra` holds, if given);
# dies with the rollout's status after PHASE_TIMEOUT.
wait_phase() {
  local want="$1" extra="${2:-true}" deadline=$((SECONDS + PHASE_TIMEOUT))
  until [[ " $want " == *" $(phase) "* ]] && eval "$extra"; do
    if (( SECONDS > deadline )); then
      k -n "$NS" get hsr "$ROLLOUT" -o yaml >&2 || true
      k -n "$NS" get pods >&2 || true
      die "rollout did not reach '$want' within $PHASE_TIMEOUT s"
    fi
    sleep 1
  done
}

# Simulator admin API from inside its pod (its token is in the pod's environment).
sim_admin() {
  local action="$1" body="$2"
  k -n "$NS" exec deploy/simulator -- python -c '
import json, os, sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:8480/admin/" + sys.argv[1], data=sys.argv[2].encode(),
    headers={"Authorization": "Bearer " + os.environ["HYBRID_SIM_ADMIN_TOKEN"],
             "Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=20))["result"])' "$action" "$body" >/dev/null
}

# `kubectl hsr get --watch` in the background while the rollout runs.
WATCH_PID=""
start_watch() {
  KUBECONFIG="$KUBECONFIG" PATH="$(dirname "$KUBECTL"):$PATH" \
    "$VENV/bin/kubectl-hsr" -n "$NS" get --watch &
  WATCH_PID=$!
}
stop_watch() {
  [[ -n "$WATCH_PID" ]] || return 0
  kill "$WATCH_PID" 2>/dev/null || true
  wait "$WATCH_PID" 2>/dev/null || true
  WATCH_PID=""
}
trap stop_watch EXIT

apply_rollout() {
  NAMESPACE="$NS" bash "$HACK_DIR/e2e-stack.sh" render "$EXAMPLE/rollout.yaml" | "$@" \
    | k -n "$NS" apply -f - >&2
}

cleanup_previous() {
  k get namespace "$NS" >/dev/null 2>&1 || return 0
  step "removing the previous demo namespace $NS"
  k -n "$NS" delete hsr --all --timeout=90s >&2 || true
  "$HELM" --kubeconfig "$KUBECONFIG" uninstall "hs-$NS" -n "$NS" >&2 || true
  k delete namespace "$NS" --timeout=180s >&2
}

main() {
  step "building what is missing and starting the kind cluster (cold: 20-30 min, warm: seconds)"
  local line
  while IFS= read -r line; do [[ "$line" == *=* ]] && export "${line?}"; done \
    < <(bash "$HACK_DIR/e2e-stack.sh" images)
  VENV=$(bash "$HACK_DIR/setup-python.sh")
  cleanup_previous

  step "deploying the simulator, Prometheus (with the chart's alerting rules), the operator chart and Alertmanager into $NS"
  bash "$HACK_DIR/e2e-stack.sh" deploy "$NS"

  step "opening positions on the simulator (XRPUSDT, LTCUSDT, BTCUSDT, ADAUSDT)"
  for s in XRPUSDT LTCUSDT BTCUSDT ADAUSDT; do
    sim_admin open-position "{\"account\": \"local-key\", \"symbol\": \"$s\", \"side\": \"Buy\", \"qty\": \"10\"}"
  done

  step "rollout 1: Canary → Parallel → Cutover 50 % → 100 % → Production (about 1-2 min)"
  apply_rollout cat
  start_watch
  wait_phase Production '[[ -n "$(k -n "$NS" get hsr "$ROLLOUT" -o jsonpath="{.status.legacyRetiredAt}")" ]]'
  stop_watch
  step "rollout 1 reached Production; legacy retired (replicas: $(k -n "$NS" get deploy "$ROLLOUT-legacy" -o jsonpath='{.spec.replicas}'))"
  k -n "$NS" logs "deploy/$ROLLOUT-hybrid-1" --tail=3 | cut -c1-160 >&2

  step "rollout 2: the same rollout again, with a fault injected mid-cutover"
  k -n "$NS" delete hsr "$ROLLOUT" --timeout=90s >&2
  k -n "$NS" wait --for=delete "deployment/$ROLLOUT-legacy" "deployment/$ROLLOUT-hybrid-1" --timeout=90s >&2 || true
  # a long first cutover step, so the fault lands while 50 % is on hybrid
  apply_rollout sed 's/- {percent: 50, pause: {duration: 35s}}/- {percent: 50, pause: {duration: 5m}}/'
  start_watch
  wait_phase Cutover '[[ -n "$(k -n "$NS" get hsr "$ROLLOUT" -o jsonpath="{.status.stepStartedAt}")" ]]'
  step "injecting the fault: simulator drops every private socket and rejects re-auth"
  sim_admin reject-auth '{"count": 100000}'
  sim_admin drop '{"kind": "private", "mode": "reset"}'
  wait_phase RolledBack
  sleep 3  # one more refresh of the watch
  stop_watch
  sim_admin clear-faults '{}'
  step "rollout 2 rolled back by $(k -n "$NS" get hsr "$ROLLOUT" -o jsonpath='{.status.lastFailure.source} {.status.lastFailure.name}: {.status.lastFailure.message}')"
  k -n "$NS" get configmap "$ROLLOUT-routing" -o jsonpath='{.data.routing\.json}' >&2; echo >&2
  KUBECONFIG="$KUBECONFIG" "$VENV/bin/kubectl-hsr" -n "$NS" history "$ROLLOUT" >&2

  step "trailing stop: activation delays legacy (1 s, 5 s polls) vs hybrid, simulator and streams on this machine (about 1 min)"
  "$VENV/bin/python" "$REPO_DIR/bench/bench_trailing_stop.py" --rounds 3 --summary >&2

  step "demo finished in $((SECONDS - START)) s. Explore: KUBECONFIG=$KUBECONFIG kubectl -n $NS get hsr,pods"
  log "clean up: kubectl -n $NS delete hsr --all && helm uninstall hs-$NS -n $NS && kubectl delete ns $NS"
}
main "$@"
