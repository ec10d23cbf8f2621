# Shared helpers for hack/ scripts: cache locations and progress output.
# Sourced, never executed.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$HACK_DIR")"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"

CACHE_DIR="${HYBRIDSTREAM_CACHE:-$HOME/.cache/hybridstream}"
mkdir -p "$CACHE_DIR"
# Go's module and build caches live in the default user cache so that every
# clone (CI uses a fresh one each run) reuses the same downloads and objects.
export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN=local

log() { printf '[hack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a command with a heartbeat line every 30 s so long builds show progress.
with_progress() {
  local what="$1"; shift
  local start=$SECONDS next=$((SECONDS + 30))
  log "$what: started"
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if (( SECONDS >= next )) && kill -0 "$pid" 2>/dev/null; then
      log "$what: still running ($((SECONDS - start)) s)"
      next=$((SECONDS + 30))
    fi
  done
  wait "$pid" || die "$what failed"
  log "$what: done in $((SECONDS - start)) s"
}

# Debian packages, installed once (apt-get update first: the image's lists are stale).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  (( ${#missing[@]} == 0 )) && return 0
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
