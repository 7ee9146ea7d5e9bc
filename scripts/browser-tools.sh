#!/usr/bin/env bash
# The browser test's tools: Debian's Chromium (installed when missing; as root, or through
# `sudo -n` so a password prompt never hangs the run) and playwright-core, pinned in
# tests/browser/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium > /dev/null; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo > /dev/null || { echo "error: Debian's chromium is missing and this user cannot install it (no sudo)" >&2; exit 1; }
    sudo=(sudo -n)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium > /dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)
