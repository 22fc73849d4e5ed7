#!/usr/bin/env bash
# What the browser tests need (compressor_kit.testing.browser), installed when missing:
#   Chromium   Debian's `chromium` at /usr/bin/chromium (apt), driven by Playwright from PyPI
#              (requirements-dev.txt). Never `playwright install`: its browser download fails here.
#   axe-core   the accessibility checker, from npm, pinned in
#              libs/kit/src/compressor_kit/testing/axe/package-lock.json (`npm ci` only when it changed)
# Idempotent; `make test` runs it, `make test-fast` does not need it.
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
AXE="$ROOT/libs/kit/src/compressor_kit/testing/axe"
CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  say chromium "present ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
else
  apt_install chromium
  [ -x "$CHROMIUM" ] || die chromium "apt installed chromium but $CHROMIUM is missing"
  say chromium "installed from Debian ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
fi

stamp="$VAR/axe-package-lock.sha256"
want="$(sha256sum "$AXE/package-lock.json" | cut -d' ' -f1)"
if [ -f "$AXE/node_modules/axe-core/axe.min.js" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say axe-core "present ($(node -p "require('$AXE/node_modules/axe-core/package.json').version" 2>/dev/null))"
else
  command -v npm >/dev/null || apt_install nodejs npm
  (cd "$AXE" && npm ci --no-audit --no-fund) >"$VAR/log/axe-npm.log" 2>&1 \
    || { tail -n 20 "$VAR/log/axe-npm.log" >&2; die axe-core "npm ci failed (log: var/log/axe-npm.log)"; }
  echo "$want" >"$stamp"
  say axe-core "installed from its package-lock.json ($(node -p "require('$AXE/node_modules/axe-core/package.json').version"))"
fi
