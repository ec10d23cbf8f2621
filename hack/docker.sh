#!/usr/bin/env bash
# Installs and starts a Docker engine from Debian packages (no systemd on these machines),
# with runc-capfix as its default runtime so `docker run --privileged` (every kind node)
# works on hosts whose capability bounding set lacks CAP_SYS_RESOURCE.
# Idempotent: a running engine with the wrapper configured is left alone.
# Prints DOCKER_HOST-independent readiness: exits 0 once `docker info` answers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CAPFIX=/usr/local/bin/runc-capfix
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG="${HYBRIDSTREAM_DOCKERD_LOG:-/var/log/hybridstream-dockerd.log}"

# Builds the wrapper (hack/images/runc-capfix) once per source hash; kind-node-image.sh
# copies the same binary into the node image.
build_capfix() {
  local src="$HACK_DIR/images/runc-capfix"
  local key; key=$(cat "$src/main.go" "$src/go.mod" | sha256sum | cut -c1-12)
  local out="$CACHE_DIR/runc-capfix-$key"
  if [[ ! -x "$out" ]]; then
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" .)
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

install_engine() {
  # docker.io brings containerd and runc; iptables for the bridge network; debootstrap
  # for hack/base-image.sh.
  apt_install docker.io containerd runc iptables debootstrap
  local bin; bin=$(build_capfix)
  cmp -s "$bin" "$CAPFIX" || install -m 0755 "$bin" "$CAPFIX"
  mkdir -p /etc/docker
  local want
  want=$(printf '{\n  "runtimes": {"runc-capfix": {"path": "%s"}},\n  "default-runtime": "runc-capfix"\n}\n' "$CAPFIX")
  if [[ "$(cat "$DAEMON_JSON" 2>/dev/null)" != "$want" ]]; then
    [[ -f "$DAEMON_JSON" ]] && cp "$DAEMON_JSON" "$DAEMON_JSON.bak"
    echo "$want" >"$DAEMON_JSON"
    # A running daemon must restart to pick up a new default runtime.
    if pgrep -x dockerd >/dev/null; then log "daemon.json changed: restarting dockerd"; stop_dockerd; fi
  fi
}

stop_dockerd() {
  local pid; pid=$(pgrep -x dockerd || true)
  [[ -z "$pid" ]] && return 0
  kill "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
  die "dockerd ($pid) did not stop"
}

start_engine() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd (log: $DOCKERD_LOG)"
    # setsid: the daemon must outlive this script and the shell/test that ran it.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 120 s"
}

main() {
  case "${1:-up}" in
    up)
      install_engine
      start_engine
      local rt; rt=$(docker info --format '{{.DefaultRuntime}}')
      [[ "$rt" == runc-capfix ]] || die "docker default runtime is $rt, expected runc-capfix"
      log "docker ready: server $(docker version --format '{{.Server.Version}}'), runtime $rt"
      ;;
    capfix-path) build_capfix ;;
    *) die "usage: docker.sh [up|capfix-path]" ;;
  esac
}
main "$@"
