#!/usr/bin/env bash
# Creates (once) a virtualenv with the hash-locked dependencies, cached outside the repo and
# keyed by the lock files' hash and this checkout's path (the checkout is installed editable, so two
# checkouts must never share a venv), then installs this checkout into it without dependencies.
# Prints the venv directory on stdout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lock="$REPO_DIR/requirements/lock.txt"
tools="$REPO_DIR/requirements/tools.txt"
key=$( (python3 --version; cat "$lock" "$tools"; echo "$REPO_DIR") | sha256sum | cut -c1-16)
venv="$CACHE_DIR/venv-$key"
# Two commands started together (a test run and a bench) must not build one venv twice.
mkdir -p "$CACHE_DIR"
exec 9>"$venv.lock"
flock 9
if [[ ! -x "$venv/bin/python" || ! -f "$venv/.complete" ]]; then
  rm -rf "$venv"
  log "creating virtualenv $venv"
  python3 -m venv "$venv"
  # --require-hashes: every file must match the sha256 the lock recorded (hack/lock.sh).
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$tools"
  with_progress "pip install locked dependencies" \
    "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$lock"
  touch "$venv/.complete"
fi
# Cheap, and keeps the editable install right if the checkout was moved.
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$REPO_DIR" >/dev/null
exec 9>&-
echo "$venv"
