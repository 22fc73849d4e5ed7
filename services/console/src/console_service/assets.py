"""The console's static files addressed by their content: `/static/<name>?v=<sha256 prefix>`.

A page names a file through `asset_url` (a Jinja global), so a browser that cached yesterday's
signature.js asks for the new one as soon as its content changes. Third-party files come from npm
(services/console/package-lock.json) and are copied to static/vendor/ by `make assets`.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


@cache
def _digest(path: Path, modified_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def asset_url(name: str) -> str:
    """The URL of static/`name` with its content hash; a missing file says how to get it."""
    path = STATIC_DIR / name
    try:
        modified_ns = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise FileNotFoundError(f"static/{name} is missing: run `make assets` (it copies the npm packages)") from None
    return f"/static/{name}?v={_digest(path, modified_ns)}"
