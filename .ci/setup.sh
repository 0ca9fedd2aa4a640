#!/usr/bin/env bash
# Installs what Exhibit needs on a fresh Debian/Ubuntu machine: Debian tools (apt-get, as root), uv (from
# PyPI) and the locked Python dependencies. Safe to re-run: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg hashdeep sleuthkit ewf-tools dosfstools e2fsprogs mtools time espeak-ng chromium poppler-utils)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run 'sudo apt-get install ${missing[*]}' (or run make as root); continuing without them" >&2
  fi
fi

export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null; then
  echo "setup: installing uv from PyPI"
  python3 -m pip --version >/dev/null 2>&1 || {
    [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip python3-venv >/dev/null
  }
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet --user --break-system-packages uv
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --locked --quiet
