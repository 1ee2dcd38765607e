#!/usr/bin/env bash
# PostgreSQL for the test that runs the trace store on it (a throwaway cluster per test
# session). Installed from Debian/Ubuntu packages as root; elsewhere that test is skipped.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  [ -n "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
  # the package starts a cluster of its own; the tests start theirs
  command -v pg_ctlcluster >/dev/null 2>&1 && pg_ctlcluster --force "$(ls /etc/postgresql)" main stop 2>/dev/null || true
else
  echo "PostgreSQL not installed (needs root and apt-get): its test will be skipped" >&2
fi
