#!/usr/bin/env bash
# Builds hybridstream/prometheus:<debian-version>-<key> for the e2e tests and the demo:
# Debian's prometheus package (the same one hack/install-debian.sh puts on the host) on our
# local bookworm base (hack/base-image.sh). Containers here reach no registry, so the .deb is
# fetched on the host with `apt-get download` (cached per version) and its binary copied in.
# Debian builds prometheus against glibc only, which the bookworm base has.
# Prints PROMETHEUS_IMAGE=...
source "$(dirname "$(dirname "${BASH_SOURCE[0]}")")/lib.sh"

fetch_deb() {
  local version="$1" out="$CACHE_DIR/debs/prometheus_$1"
  if [[ ! -x "$out/usr/bin/prometheus" ]]; then
    apt_install dpkg-dev
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq "prometheus=$version" >/dev/null 2>&1) \
      || { apt-get update -qq >/dev/null; (cd "$tmp" && apt-get download -qq "prometheus=$version" >/dev/null); }
    rm -rf "$out"; mkdir -p "$out"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

main() {
  bash "$HACK_DIR/docker.sh" up
  local base; base=$(bash "$HACK_DIR/base-image.sh" image bookworm)
  local version; version=$(apt-cache policy prometheus | sed -n 's/^ *Candidate: *//p')
  [[ -n "$version" && "$version" != "(none)" ]] || { apt-get update -qq >/dev/null;
    version=$(apt-cache policy prometheus | sed -n 's/^ *Candidate: *//p'); }
  local key; key=$(printf '%s\n' "$base" "$version" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-10)
  local image="hybridstream/prometheus:${version//[^A-Za-z0-9_.-]/_}-$key"
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    local root; root=$(fetch_deb "$version")
    local ctx; ctx=$(mktemp -d)
    cp "$root/usr/bin/prometheus" "$ctx/prometheus"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY prometheus /usr/bin/prometheus
# nobody: the e2e/demo pods run it non-root with a read-only root and /prometheus an emptyDir
USER 65534
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
DOCKERFILE
    with_progress "docker build $image" env DOCKER_BUILDKIT=0 docker build -q --force-rm -t "$image" "$ctx" >/dev/null
    rm -rf "$ctx"
    docker images --format '{{.Repository}}:{{.Tag}}' hybridstream/prometheus | grep -vx "$image" \
      | xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  echo "PROMETHEUS_IMAGE=$image"
}
main "$@"
