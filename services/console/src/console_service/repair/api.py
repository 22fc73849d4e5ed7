"""Pages of repair/ (filled in by its owner)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
