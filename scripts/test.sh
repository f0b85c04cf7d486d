#!/usr/bin/env bash
# `make test`: start the services the tests need (unless configured or already running), run the
# whole suite, then stop only the services this script started.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# The browser tests (tests/e2e/test_demo_browser.py) need a headless Chromium: provision it, and
# make them fail rather than skip if it is missing anyway.
bash scripts/browser.sh ensure || exit 1
export STREAMREC_REQUIRE_BROWSER=1

started_here=0
if [[ -z "${STREAMREC_KAFKA_BOOTSTRAP:-}${STREAMREC_REDIS_URL:-}" ]] && ! docker info >/dev/null 2>&1; then
  if ! bash scripts/services.sh status >/dev/null 2>&1; then started_here=1; fi
  bash scripts/services.sh up || exit 1
fi

.venv/bin/python -m pytest -q -ra "$@"
status=$?

if [[ $started_here == 1 ]]; then bash scripts/services.sh down; fi
exit $status
