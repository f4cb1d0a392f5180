"""The command's entry point: pvscan.cli.main, with Ctrl-C answered the same way wherever it
lands, the imports and the parsing of the command line included (exit 130, one line)."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
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
