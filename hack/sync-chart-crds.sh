#!/usr/bin/env bash
# Copies the generated CRDs (crds/*.yaml, the single source of truth) into the Helm chart's
# crds/ directory. tests/unit/charts/test_chart_crds.py fails when the two differ.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dest="$REPO_DIR/charts/hybridstream-operator/crds"
for f in "$REPO_DIR"/crds/*.yaml; do
  cp "$f" "$dest/"
  log "synced $(basename "$f")"
done
