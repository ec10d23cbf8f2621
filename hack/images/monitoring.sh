#!/usr/bin/env bash
# Builds the monitoring images of the e2e tests and the demo from Debian's packages (the same
# ones hack/install-debian.sh puts on the host) on our local bookworm base
# (hack/base-image.sh):
#   hybridstream/prometheus:<debian-version>-<key>    (package prometheus)
#   hybridstream/alertmanager:<debian-version>-<key>  (package prometheus-alertmanager)
# Containers here reach no registry, so each .deb is fetched on the host with
# `apt-get download` (cached per version) and its binary copied in. Debian builds both
# against glibc only, which the bookworm base has.
# With HYBRIDSTREAM_STOCK_IMAGES=1 (users with internet) the upstream images of the same
# versions are pulled instead (STOCK_PROMETHEUS_IMAGE / STOCK_ALERTMANAGER_IMAGE override).
# Prints PROMETHEUS_IMAGE=... and ALERTMANAGER_IMAGE=...
source "$(dirname "$(dirname "${BASH_SOURCE[0]}")")/lib.sh"

candidate() { apt-cache policy "$1" | sed -n 's/^ *Candidate: *//p'; }

fetch_deb() {
  local package="$1" version="$2" out="$CACHE_DIR/debs/${1}_$2"
  if [[ ! -f "$out/.complete" ]]; then
    apt_install dpkg-dev
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq "$package=$version" >/dev/null 2>&1) \
      || { apt-get update -qq >/dev/null; (cd "$tmp" && apt-get download -qq "$package=$version" >/dev/null); }
    rm -rf "$out"; mkdir -p "$out"
    dpkg-deb -x "$tmp"/"${package}"_*.deb "$out"
    rm -rf "$tmp"
    touch "$out/.complete"
  fi
  echo "$out"
}

# build_image PACKAGE BINARY NAME WORKDIR [DATA_DIR]: prints the image reference. DATA_DIR
# (a path inside the package) is copied along: files the binary opens at run time.
build_image() {
  local package="$1" binary="$2" name="$3" workdir="$4" data="${5:-}"
  local base; base=$(bash "$HACK_DIR/base-image.sh" image bookworm)
  local version; version=$(candidate "$package")
  [[ -n "$version" && "$version" != "(none)" ]] || { apt-get update -qq >/dev/null; version=$(candidate "$package"); }
  [[ -n "$version" && "$version" != "(none)" ]] || die "no Debian candidate for $package"
  local key; key=$(printf '%s\n' "$base" "$version" "$package" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-10)
  local image="hybridstream/$name:${version//[^A-Za-z0-9_.-]/_}-$key"
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    local root; root=$(fetch_deb "$package" "$version")
    [[ -x "$root/usr/bin/$binary" ]] || die "$package has no /usr/bin/$binary"
    local ctx; ctx=$(mktemp -d)
    cp "$root/usr/bin/$binary" "$ctx/$binary"
    mkdir -p "$ctx/data${data:+/$data}"
    [[ -z "$data" ]] || cp -a "$root/$data/." "$ctx/data/$data/"
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY $binary /usr/bin/$binary
COPY data/ /
# nobody: the e2e/demo pods run it non-root with a read-only root and $workdir an emptyDir
USER 65534
WORKDIR $workdir
ENTRYPOINT ["/usr/bin/$binary"]
DOCKERFILE
    with_progress "docker build $image" env DOCKER_BUILDKIT=0 docker build -q --force-rm -t "$image" "$ctx" >/dev/null
    rm -rf "$ctx"
    docker images --format '{{.Repository}}:{{.Tag}}' "hybridstream/$name" | grep -vx "$image" \
      | xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  echo "$image"
}

# Stock images are pulled by digest: hack/stock-images.lock records "<tag> <digest>" per
# image. A tag not recorded yet is pulled once by tag and its digest written there (commit
# the file); from then on only that digest is accepted. Prints repo@digest.
STOCK_LOCK="$HACK_DIR/stock-images.lock"
stock_image() {
  local tag="$1" digest
  digest=$(awk -v t="$tag" '$1 == t {print $2}' "$STOCK_LOCK" 2>/dev/null)
  if [[ -z "$digest" ]]; then
    with_progress "docker pull $tag (first use: recording its digest)" docker pull -q "$tag" >/dev/null
    digest=$(docker image inspect -f '{{index .RepoDigests 0}}' "$tag")
    digest="${digest#*@}"
    echo "$tag $digest" >>"$STOCK_LOCK"
    log "recorded $tag $digest in hack/stock-images.lock: commit it"
  fi
  local pinned="${tag%:*}@$digest"
  docker image inspect "$pinned" >/dev/null 2>&1 || with_progress "docker pull $pinned" docker pull -q "$pinned" >/dev/null
  echo "$pinned"
}

main() {
  bash "$HACK_DIR/docker.sh" up
  if [[ "${HYBRIDSTREAM_STOCK_IMAGES:-0}" == 1 ]]; then
    echo "PROMETHEUS_IMAGE=$(stock_image "$STOCK_PROMETHEUS_IMAGE")"
    echo "ALERTMANAGER_IMAGE=$(stock_image "$STOCK_ALERTMANAGER_IMAGE")"
    return
  fi
  echo "PROMETHEUS_IMAGE=$(build_image prometheus prometheus prometheus /prometheus)"
  # Alertmanager loads its default notification templates from the package's data dir.
  echo "ALERTMANAGER_IMAGE=$(build_image prometheus-alertmanager prometheus-alertmanager alertmanager /alertmanager usr/share/prometheus/alertmanager)"
}
main "$@"
