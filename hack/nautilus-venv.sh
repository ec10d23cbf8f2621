#!/usr/bin/env bash
# Creates (once) the virtualenv of nautilus_trader, a strict third-party Bybit client (msgspec
# structs, required fields) whose decoders and HTTP client the payload-fidelity test runs
# against the simulator. Its own venv, cached outside the repo and keyed by the pinned version
# and the lock's hash: it is large (numpy, pandas, pyarrow) and only that test needs it.
# Prints the venv's python on stdout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lock="$REPO_DIR/requirements/nautilus-lock.txt"
grep -q "^nautilus-trader==$NAUTILUS_TRADER_VERSION " "$lock" \
  || die "$lock does not pin nautilus_trader==$NAUTILUS_TRADER_VERSION"
key=$( (python3 --version; cat "$lock") | sha256sum | cut -c1-16)
venv="$CACHE_DIR/nautilus-trader-$NAUTILUS_TRADER_VERSION-$key"
# Tests may run in parallel: one creates, the others wait for it.
exec 9>"$venv.lock"
flock 9
if [[ ! -x "$venv/bin/python" || ! -f "$venv/.complete" ]]; then
  rm -rf "$venv"
  log "creating virtualenv $venv"
  python3 -m venv "$venv"
  with_progress "pip install nautilus_trader $NAUTILUS_TRADER_VERSION" \
    "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock"
  "$venv/bin/pip" check -q --disable-pip-version-check >/dev/null || die "incomplete lock $lock"
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
