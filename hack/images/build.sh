#!/usr/bin/env bash
# Builds our two images offline from the local Debian python base (hack/base-image.sh):
#   hybridstream/stream:<version>-<key>    (./Dockerfile: stream + simulator)
#   hybridstream/operator:<version>-<key>  (./Dockerfile.operator)
#   hybridstream/stream:<version>-<key>-v2 (the stream image with another version label:
#                                           the e2e revision walk needs a second image)
# Containers here cannot reach PyPI, so the locked dependencies are built as wheels on the
# host (cached per lock-file hash) and installed with --no-index inside the build. The tag
# key hashes every input, so a warm run with unchanged sources builds nothing.
# With HYBRIDSTREAM_STOCK_IMAGES=1 (users with internet) the base is the Dockerfile's public
# python:3.11-slim and pip installs the lock file from PyPI inside the build instead.
# Prints STREAM_IMAGE=..., STREAM_IMAGE_V2=... and OPERATOR_IMAGE=...
source "$(dirname "$(dirname "${BASH_SOURCE[0]}")")/lib.sh"
cd "$REPO_DIR"

SOURCES=(pyproject.toml README.md requirements/runtime.txt requirements/tools.txt Dockerfile
         Dockerfile.operator)

source_key() {
  { cat "${SOURCES[@]}"; find stream operator \( -name __pycache__ -prune \) -o -type f -print \
      | sort | xargs cat; echo "$1"; } | sha256sum | cut -c1-12
}

# The exact files the runtime lock and the tools lock name, downloaded (hash-checked) on the
# host; the image installs them again with --require-hashes, so a file swapped in the cache
# fails the build. Markers are dropped so that wheels the image's Python needs but the
# host's does not (async-timeout below 3.11.3: Debian has 3.11.2) are fetched too.
build_wheels() {
  local venv="$1" lock_key
  lock_key=$(cat requirements/runtime.txt requirements/tools.txt | sha256sum | cut -c1-12)
  local out="$CACHE_DIR/wheels-$lock_key"
  if [[ ! -f "$out/.complete" ]]; then
    rm -rf "$out"
    with_progress "pip download (locked dependencies)" "$venv/bin/pip" download -q \
      --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -d "$out" \
      -r <(sed -E 's/ ;[^\\]*\\$/ \\/' requirements/runtime.txt) -r requirements/tools.txt
    touch "$out/.complete"
  fi
  echo "$out"
}

# Earlier builds' tags (other source keys) only fill the disk; images a container still
# uses stay (docker refuses to remove them).
prune_old_tags() {
  local repo="$1"; shift
  local keep=() t; for t in "$@"; do keep+=(-e "$repo:$t"); done
  docker images --format '{{.Repository}}:{{.Tag}}' "$repo" | grep -vxF "${keep[@]}" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
}

# The legacy builder keeps each build's first stage as an untagged image; once the final
# image it belonged to is gone it is only dead weight (hundreds of MB per source change).
prune_dangling() { docker image prune -f >/dev/null; }

main() {
  bash "$HACK_DIR/docker.sh" up
  local stock="${HYBRIDSTREAM_STOCK_IMAGES:-0}" base
  if [[ "$stock" == 1 ]]; then base=$(sed -n "s/^ARG BASE_IMAGE=//p" Dockerfile); else base=$(bash "$HACK_DIR/base-image.sh" image python); fi
  local version; version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
  local tag; tag="$version-$(source_key "$base")"
  local stream="hybridstream/stream:$tag" operator="hybridstream/operator:$tag"
  if [[ "$stock" == 1 ]] && ! docker image inspect "$stream" >/dev/null 2>&1; then
    with_progress "docker build $stream (stock base)" env DOCKER_BUILDKIT=0 docker build -q \
      --force-rm --build-arg BASE_IMAGE="$base" -t "$stream" . >/dev/null
  fi
  if ! docker image inspect "$stream" >/dev/null 2>&1; then
    local venv; venv=$(bash "$HACK_DIR/setup-python.sh")
    local wheels; wheels=$(build_wheels "$venv")
    local ctx; ctx=$(mktemp -d)
    mkdir -p "$ctx/requirements"
    cp "${SOURCES[@]}" "$ctx/"
    cp requirements/runtime.txt requirements/tools.txt "$ctx/requirements/"
    cp -r "$wheels" "$ctx/requirements/wheels"
    tar -c --exclude=__pycache__ --exclude="*.egg-info" stream operator | tar -x -C "$ctx"
    with_progress "docker build $stream" env DOCKER_BUILDKIT=0 docker build -q --force-rm \
      --build-arg BASE_IMAGE="$base" \
      --build-arg PIP_ARGS="--no-index --find-links=/src/requirements/wheels" \
      -t "$stream" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  if ! docker image inspect "$operator" >/dev/null 2>&1; then
    local empty; empty=$(mktemp -d)
    DOCKER_BUILDKIT=0 docker build -q -f Dockerfile.operator --build-arg STREAM_IMAGE="$stream" \
      -t "$operator" "$empty" >/dev/null
    rmdir "$empty"
  fi
  # Same code, same layers, only the OCI version label differs: a new revision to roll out.
  if ! docker image inspect "$stream-v2" >/dev/null 2>&1; then
    printf 'FROM %s\nLABEL org.opencontainers.image.version=v2\n' "$stream" \
      | DOCKER_BUILDKIT=0 docker build -q -t "$stream-v2" - >/dev/null
  fi
  prune_old_tags hybridstream/stream "$tag" "$tag-v2"
  prune_old_tags hybridstream/operator "$tag"
  prune_dangling
  echo "STREAM_IMAGE=$stream"
  echo "STREAM_IMAGE_V2=$stream-v2"
  echo "OPERATOR_IMAGE=$operator"
}
main "$@"
