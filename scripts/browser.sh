#!/usr/bin/env bash
# A headless Chromium and its chromedriver for the browser tests (tests/e2e/test_demo_browser.py).
# Installs Debian's `chromium` and `chromium-driver` packages with apt when either is missing
# (through sudo when not root, so it also works on a GitHub Actions runner).
#
# Usage: scripts/browser.sh ensure|status
#   ensure   install what is missing (idempotent), then print what the tests will use
#   status   print what the tests will use; exit 1 if the browser or the driver is missing
set -euo pipefail

# The names the tests look for on PATH, in this order (tests/e2e/test_demo_browser.py).
BROWSERS=(chromium chromium-browser google-chrome google-chrome-stable)
DRIVER=chromedriver

log() { echo "[browser] $*"; }
die() { echo "[browser] ERROR: $*" >&2; exit 1; }

find_browser() {
  local name
  for name in "${BROWSERS[@]}"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

find_driver() { command -v "$DRIVER" 2>/dev/null; }

major() { "$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9.]+' | head -n 1 | cut -d. -f1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "not root and no sudo: install the Debian packages chromium and chromium-driver"
  fi
}

# Debian names the packages chromium / chromium-driver; Ubuntu chromium-browser /
# chromium-chromedriver.
install_packages() {
  command -v apt-get >/dev/null 2>&1 ||
    die "no Chromium + chromedriver found and no apt-get to install them"
  log "Chromium or chromedriver not found; installing them from apt"
  as_root apt-get update -qq
  local packages=(chromium chromium-driver)
  if ! apt-cache show chromium-driver >/dev/null 2>&1; then
    packages=(chromium-browser chromium-chromedriver)
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null ||
    die "apt-get install ${packages[*]} failed"
}

cmd_status() {
  local browser driver
  browser=$(find_browser) || { log "no browser (looked for ${BROWSERS[*]})"; return 1; }
  driver=$(find_driver) || { log "no $DRIVER on PATH"; return 1; }
  log "browser $browser (major version $(major "$browser")), driver $driver" \
    "(major version $(major "$driver"))"
  if [[ "$(major "$browser")" != "$(major "$driver")" ]]; then
    log "warning: the browser's and the driver's major versions differ; the tests may fail"
  fi
}

cmd_ensure() {
  if ! find_browser >/dev/null || ! find_driver >/dev/null; then install_packages; fi
  cmd_status || die "still no browser and driver after installing them"
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  status) cmd_status ;;
  *) echo "usage: $0 ensure|status" >&2; exit 2 ;;
esac
