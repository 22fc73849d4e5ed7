"""`python -m compressor_contracts schemas <dir>` | `catalogue <file.md>`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from compressor_contracts.docs import write_catalogue, write_schemas


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compressor_contracts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    schemas = commands.add_parser("schemas", help="write one JSON Schema per event (the full envelope)")
    schemas.add_argument("directory", type=Path)
    catalogue = commands.add_parser("catalogue", help="write the markdown event catalogue for integrators")
    catalogue.add_argument("file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "schemas":
        paths = write_schemas(args.directory)
        print(f"wrote {len(paths)} schemas to {args.directory}")
    else:
        print(f"wrote {write_catalogue(args.file)}")
    return 0
