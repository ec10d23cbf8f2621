#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers: Prometheus, Alertmanager,
# Redis (for the Redis Streams sink), PostgreSQL (for the history sink; Debian keeps initdb
# and postgres off PATH, in /usr/lib/postgresql/<version>/bin, where tests/plugins/postgres.py
# finds them), Chromium (headless, for the dashboard's browser test, driven over the DevTools
# protocol), iproute2 (tests/plugins/pod_proxy.py adds the addresses kwok pods answer on
# through the pod proxy). Docker and debootstrap come with hack/docker.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
apt_install prometheus prometheus-alertmanager redis-server postgresql chromium iproute2
# The Debian packages start services through systemd/init scripts; tests start their own
# instances on free loopback ports, so nothing here needs to be running.
for b in prometheus prometheus-alertmanager redis-server chromium ip; do command -v "$b" >/dev/null || die "$b missing after install"; done
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null \
  || die "initdb missing after installing postgresql"
log "debian packages ready: $(prometheus --version 2>&1 | head -1)"
