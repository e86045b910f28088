#!/usr/bin/env bash
# Create the virtualenv, installing Debian's python3-venv first if it is missing.
set -euo pipefail
venv=${1:-.venv}
[ -x "$venv/bin/python" ] && exit 0
command -v python3 >/dev/null || { echo "ensure-venv: python3 (3.11+) is missing" >&2; exit 1; }
if ! python3 -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null
  elif sudo -n true 2>/dev/null; then
    sudo -n apt-get update -q >/dev/null && sudo -n apt-get install -y -q python3-venv >/dev/null
  else
    echo "ensure-venv: python3 -m venv failed; install Debian's python3-venv" >&2; exit 1
  fi
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
