"""The command's entry point: pvscan.cli.main, with Ctrl-C answered the same way wherever it
lands, the imports and the parsing of the command line included (exit 130, one line)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


def main(argv: list[str] | None = None) -> int:
    try:
        from pvscan.cli import main as run

        return run(argv)
    except KeyboardInterrupt:
        try:
            sys.stderr.write("pvscan: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return 130
