"""Whether to colour terminal output, and highlighting with pygments' terminal formatter.

--color auto (the default) colours only a terminal, and not when NO_COLOR
is set (https://no-color.org) or TERM is dumb; always and never decide.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO


def use_color(choice: str, stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def highlight_c(code: str) -> str:
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers import CLexer

    return highlight(code, CLexer(), TerminalFormatter()).rstrip("\n")


# gcc's colours for its diagnostics: errors bold red, warnings magenta, notes cyan.
_SEVERITY = {"error": "\x1b[1;31m", "warning": "\x1b[1;35m", "note": "\x1b[1;36m",
             "ERROR": "\x1b[1;31m", "WARNING": "\x1b[1;35m", "CHECK": "\x1b[1;36m"}


def paint(label: str, severity: str | None = None) -> str:
    """label in the colour of its severity (label itself when severity is None)."""
    return f"{_SEVERITY[severity or label]}{label}\x1b[0m"
