# Shared by the project's scripts: find the repository, make the virtualenv, install what is pinned.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  die "Python 3.11 is required (Django 5.2 LTS); none found on PATH"
}

# ensure_venv FILE: create .venv and install FILE's pins, once per change of the requirement files.
ensure_venv() {
  local requirements="$1" stamp digest
  if [ ! -x "$PY" ]; then
    say "creating virtualenv in .venv"
    "$(find_python)" -m venv "$VENV"
  fi
  digest=$(cat requirements*.txt | sha256sum | cut -c1-16)
  stamp="$VENV/.installed-$(basename "$requirements")-$digest"
  if [ ! -f "$stamp" ]; then
    say "installing $requirements into .venv"
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}

# ensure_chromium: Debian's Chromium for the browser tests (no browser download at run time).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "Chromium is missing and apt-get is not available to install it"
  say "installing Debian's chromium for the browser tests"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}
