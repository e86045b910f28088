#!/usr/bin/env bash
# Install the named Debian packages when they are missing. Uses apt-get as root or through
# passwordless sudo; runs `apt-get update` only when an install fails without it. Without
# those rights, says exactly which packages are missing and exits 1. Safe to run repeatedly.
set -euo pipefail

say() { printf 'ensure-debian-packages: %s\n' "$*" >&2; }

[ "$#" -gt 0 ] || { say "usage: $0 PACKAGE..."; exit 2; }

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done
[ "${#missing[@]}" -gt 0 ] || exit 0

if [ "$(id -u)" = 0 ]; then
  root=()
elif sudo -n true 2>/dev/null; then
  root=(sudo -n)
else
  say "missing Debian package(s): ${missing[*]}. Install them as root: apt-get install -y ${missing[*]}"
  exit 1
fi

install() {
  DEBIAN_FRONTEND=noninteractive "${root[@]}" apt-get install -y -q "${missing[@]}" >/dev/null
}

say "installing ${missing[*]}"
if ! install; then
  say "install failed; updating the package lists and trying again"
  "${root[@]}" apt-get update -q >/dev/null
  install || { say "could not install: ${missing[*]}"; exit 1; }
fi
