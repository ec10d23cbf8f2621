#!/usr/bin/env bash
# Prints MONITORING_CRDS=<dir> holding prometheus-operator's real CustomResourceDefinitions
# (ServiceMonitor, PodMonitor, PrometheusRule, ...). They ship inside the
# github.com/prometheus-operator/prometheus-operator Go module (example/prometheus-operator-crd),
# which the Go module proxy serves; the chart tests apply them so the API server validates
# the chart's monitoring objects against the real schemas.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# PROMETHEUS_OPERATOR_VERSION: hack/versions.env
dir=$(cd "$CACHE_DIR" && go mod download -json \
  "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if d.get("Error") else print(d["Dir"])')
crds="$dir/example/prometheus-operator-crd"
[[ -f "$crds/monitoring.coreos.com_prometheusrules.yaml" ]] || die "no CRDs in $crds"
echo "MONITORING_CRDS=$crds"
