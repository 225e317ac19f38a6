#!/usr/bin/env bash
# Install everything the tests need into .venv, then run lint, types and the whole test suite.
# Arguments are passed to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
# The older generation of the official client (API 2.0.0, with Telegram) cannot share an
# environment with the newer one: the e2e tests run it from its own directory.
if [ ! -d .venv/messente-api-2.5.2/messente_api ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps \
    --target .venv/messente-api-2.5.2 messente-api==2.5.2
fi
export TIDINGS_MESSENTE_252="$PWD/.venv/messente-api-2.5.2"
# The Node SMSC test peer (tests/peers/node-smsc): its pinned npm packages, when node is here.
if command -v npm >/dev/null 2>&1 && [ ! -d tests/peers/node-smsc/node_modules/smpp ]; then
  npm ci --prefix tests/peers/node-smsc --no-audit --no-fund --loglevel=error
fi
# axe-core for the browser tests' accessibility check (tests/browser/package.json), likewise.
if command -v npm >/dev/null 2>&1 && [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

echo "== ruff"; .venv/bin/ruff check src tests bench
.venv/bin/ruff format --check --quiet src tests bench
echo "== mypy"; .venv/bin/mypy
echo "== import contracts (layers point down)"; .venv/bin/lint-imports --no-cache
# The browser tests drive Debian's chromium (/usr/bin/chromium) through Playwright; Playwright
# never downloads a browser here. Without it they skip, or fail when CI is set.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing chromium for the browser tests"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "could not install chromium: the browser tests will skip (or fail under CI)"
fi
echo "== pytest"; .venv/bin/pytest "$@"
