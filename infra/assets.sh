#!/usr/bin/env bash
# The console's third-party browser code, from npm, pinned in services/console/package-lock.json:
#   signature_pad  the signing widget (templates/_signature.html, static/signature.js)
# `npm ci` only when the lock changed; the built file is copied to console_service/static/vendor/
# (git-ignored), where the console serves it with a content hash in its URL (console_service.assets).
# Idempotent; `make test` and `make run` (so `make demo`) run it: a fresh clone has it.
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CONSOLE="$ROOT/services/console"
VENDOR="$CONSOLE/src/console_service/static/vendor"
BUILT="$CONSOLE/node_modules/signature_pad/dist/signature_pad.umd.min.js"

stamp="$VAR/console-package-lock.sha256"
want="$(sha256sum "$CONSOLE/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$BUILT" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  (cd "$CONSOLE" && npm ci --no-audit --no-fund) >"$VAR/log/console-npm.log" 2>&1 \
    || { tail -n 20 "$VAR/log/console-npm.log" >&2; die assets "npm ci failed (log: var/log/console-npm.log)"; }
  echo "$want" >"$stamp"
fi
mkdir -p "$VENDOR"
# The minified file keeps its own licence header (MIT, Szymon Nowak).
cmp -s "$BUILT" "$VENDOR/signature_pad.umd.min.js" || cp "$BUILT" "$VENDOR/signature_pad.umd.min.js"
say assets "signature_pad $(node -p "require('$CONSOLE/node_modules/signature_pad/package.json').version") in console_service/static/vendor/"
