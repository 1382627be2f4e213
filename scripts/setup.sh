#!/usr/bin/env bash
# Set up Plume on a Debian/Ubuntu machine: system packages, then a virtual
# environment in .venv with Plume and its development tools installed.
# Safe to run again. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng)
# Chromium: only the browser tests of the HTML reports use it (tests/e2e).
DEV_PACKAGES=(chromium)
[ "${PLUME_NO_BROWSER:-}" = 1 ] || SYSTEM_PACKAGES+=("${DEV_PACKAGES[@]}")

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root (or sudo) to install: ${SYSTEM_PACKAGES[*]}" >&2; return 1; fi
}

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Plume needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup: done. Plume is installed in .venv (try: .venv/bin/plume --help)"
