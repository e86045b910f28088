#!/usr/bin/env bash
# Make sure PostgreSQL with PostGIS runs for DATABASE_URL. Installs Debian packages when it
# can (root or passwordless sudo), starts a stopped local cluster, and otherwise says exactly
# what is missing. Safe to run repeatedly.
set -euo pipefail

url=${DATABASE_URL:-postgresql://postgres:postgres@127.0.0.1:5432/yizhan}
# host and port from the URL (defaults: 127.0.0.1, 5432)
hostport=$(printf '%s' "$url" | sed -E 's#^[a-z0-9+]+://([^@/]*@)?([^/?]*).*#\2#')
host=${hostport%%:*}; host=${host:-127.0.0.1}
port=5432; [[ "$hostport" == *:* ]] && port=${hostport##*:}

say() { printf 'ensure-postgres: %s\n' "$*" >&2; }

as_root=""
if [ "$(id -u)" = 0 ]; then as_root=" "; elif sudo -n true 2>/dev/null; then as_root="sudo -n"; fi
root() { if [ "$as_root" = " " ]; then "$@"; else $as_root "$@"; fi; }

case "$host" in
  127.0.0.1|localhost|::1|"") local_server=1 ;;
  *) local_server=0 ;;
esac

if [ "$local_server" = 0 ]; then
  say "DATABASE_URL points at $host: not installing or starting anything locally."
  exit 0
fi

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1; }

apt_updated=0
apt_install() {
  if [ -z "$as_root" ]; then
    say "missing Debian package(s): $*. Install them as root: apt-get install -y $*"
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then root apt-get update -q >/dev/null; apt_updated=1; fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive root apt-get install -y -q "$@" >/dev/null
}

fresh_install=0
if [ -z "$(pg_version)" ] || [ ! -x "/usr/lib/postgresql/$(pg_version)/bin/postgres" ]; then
  apt_install postgresql postgresql-contrib
  fresh_install=1
fi
v=$(pg_version)
if ! ls /usr/share/postgresql/"$v"/extension/postgis.control >/dev/null 2>&1; then
  apt_install "postgresql-$v-postgis-3"
fi

if ! pg_isready -q -h "$host" -p "$port"; then
  if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
    [ -n "$as_root" ] || { say "no PostgreSQL cluster; create one as root: pg_createcluster $v main --start"; exit 1; }
    root pg_createcluster "$v" main --port "$port" --start >/dev/null
  else
    read -r cv cn _ < <(pg_lsclusters -h | awk -v p="$port" '$3 == p' | head -n 1)
    [ -n "${cv:-}" ] || { say "no cluster listens on port $port (see pg_lsclusters)"; exit 1; }
    [ -n "$as_root" ] || { say "PostgreSQL $cv/$cn is down; start it: pg_ctlcluster $cv $cn start"; exit 1; }
    say "starting PostgreSQL $cv/$cn"
    root pg_ctlcluster --skip-systemctl-redirect "$cv" "$cn" start
  fi
  for _ in $(seq 1 30); do pg_isready -q -h "$host" -p "$port" && break; sleep 1; done
fi
pg_isready -q -h "$host" -p "$port" || { say "PostgreSQL does not answer on $host:$port"; exit 1; }

# A server this script just installed only lets the postgres OS user in; give the role the
# password of the default URL so the TCP login works.
if [ "$fresh_install" = 1 ] && [ -z "${DATABASE_URL:-}" ]; then
  root runuser -u postgres -- psql -q -c "ALTER ROLE postgres PASSWORD 'postgres'"
fi
