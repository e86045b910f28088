#!/usr/bin/env bash
# Prepare the map page and its browser test; safe to run repeatedly.
#   - web/node_modules: `npm ci --prefix web` (MapLibre GL JS, served by the app, and
#     playwright-core, which drives the test) when missing or older than web/package-lock.json.
#     Installs Debian's nodejs and npm first when npm is missing.
#   - Debian's chromium and a small CJK font (fonts-wqy-microhei, so the test's screenshots show
#     Chinese instead of empty boxes) for the browser test; skipped with --web-only, as
#     `make install` does.
# Package installs use scripts/ensure-debian-packages.sh: as root or through passwordless
# sudo, otherwise it names the missing packages and exits 1.
set -euo pipefail

cd "$(dirname "$0")/.."
say() { printf 'ensure-browser: %s\n' "$*" >&2; }

web_only=false
case "${1:-}" in
  --web-only) web_only=true ;;
  "") ;;
  *) say "usage: $0 [--web-only]"; exit 2 ;;
esac

command -v npm >/dev/null || scripts/ensure-debian-packages.sh nodejs npm

stamp=web/node_modules/.package-lock.json  # npm writes it on every install
if [ ! -f "$stamp" ] || [ web/package-lock.json -nt "$stamp" ]; then
  say "npm ci --prefix web"
  # playwright-core never downloads browsers; the variable makes sure nothing else does.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix web --ignore-scripts --no-audit --no-fund \
    --loglevel=error
fi

$web_only && exit 0
scripts/ensure-debian-packages.sh chromium fonts-wqy-microhei
