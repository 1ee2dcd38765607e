#!/usr/bin/env bash
# Make a Chromium available to Playwright. Playwright's own download is tried first where the
# network allows it; else the system's Chromium (Debian/Ubuntu: apt-get install chromium),
# which worldplan passes to Playwright as executable_path.
set -euo pipefail
for b in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [ -x "$b" ]; then echo "browser: $b"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  echo "browser: $(command -v chromium)"
  exit 0
fi
VENV=${1:-.venv}
if timeout 300 "$VENV/bin/playwright" install chromium; then exit 0; fi
echo "no Chromium found: install your distribution's chromium package (as root:" \
     "apt-get install chromium), or run '$VENV/bin/playwright install chromium'" >&2
exit 1
