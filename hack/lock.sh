#!/usr/bin/env bash
# Regenerates the hash-locked requirement files from pyproject.toml. Run it by hand after
# changing a dependency (make test never resolves anything):
#   requirements/lock.txt     the whole tree (runtime + dev) for the test virtualenv
#   requirements/runtime.txt  the runtime tree for the images (same pins as lock.txt)
#   requirements/tools.txt    pip, setuptools and wheel themselves
#   requirements/nautilus-lock.txt  the strict test client's own tree (hack/nautilus-venv.sh)
# Every entry carries the sha256 of each file PyPI serves for that version, and every
# install (hack/setup-python.sh, the Dockerfile) uses --require-hashes: a changed or
# substituted file fails the install. The existing pins are kept (they are passed as
# constraints); delete a line to let uv pick a newer version of it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_DIR"

venv="$CACHE_DIR/uv-$UV_VERSION"
if [[ ! -x "$venv/bin/uv" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
compile() {
  local out="$1"; shift
  local previous; previous=$(mktemp)
  [[ -f "$out" ]] && cp "$out" "$previous"
  "$venv/bin/uv" pip compile -q --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "bash hack/lock.sh" --no-annotate -c "$previous" -o "$out" "$@"
  rm -f "$previous"
}
compile requirements/lock.txt pyproject.toml --extra dev
compile requirements/runtime.txt pyproject.toml -c requirements/lock.txt
printf '%s\n' "pip==$PIP_VERSION" "setuptools==$SETUPTOOLS_VERSION" "wheel==$WHEEL_VERSION" \
  | compile requirements/tools.txt -
echo "nautilus_trader==$NAUTILUS_TRADER_VERSION" | compile requirements/nautilus-lock.txt -
log "wrote requirements/lock.txt, runtime.txt, tools.txt and nautilus-lock.txt"
