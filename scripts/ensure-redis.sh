#!/usr/bin/env bash
# Make sure a Redis answers on 127.0.0.1:6379 for the tests of shared quotas: install
# Debian's redis-server when root (or passwordless sudo), start it if it is down.
set -euo pipefail
say() { printf 'ensure-redis: %s\n' "$*" >&2; }
ping() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
ping && exit 0
as_root=""
if [ "$(id -u)" = 0 ]; then as_root=" "; elif sudo -n true 2>/dev/null; then as_root="sudo -n"; fi
root() { if [ "$as_root" = " " ]; then "$@"; else $as_root "$@"; fi; }
if ! command -v redis-server >/dev/null; then
  [ -n "$as_root" ] || { say "redis-server is missing: apt-get install -y redis-server"; exit 1; }
  say "installing redis-server"
  DEBIAN_FRONTEND=noninteractive root apt-get install -y -q redis-server >/dev/null 2>&1 || {
    root apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive root apt-get install -y -q redis-server >/dev/null
  }
fi
ping && exit 0
say "starting redis-server on 127.0.0.1:6379 (no persistence)"
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir /tmp >/dev/null
for _ in $(seq 1 20); do ping && exit 0; sleep 0.25; done
say "Redis does not answer on 127.0.0.1:6379"; exit 1
