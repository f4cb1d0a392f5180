"""The one exception type users see, and the warnings channel.

Every problem with the input becomes a PvscanError carrying the file and
line it is about; the CLI catches it once and prints one line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO


class PvscanError(Exception):
    """Input or usage error: the run cannot go on (exit code 2)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        return format_location(self.path, self.line, self.message)


def needs_extra(module: str, feature: str, extra: str) -> None:
    """A PvscanError saying what to install when a feature's optional dependency is missing."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise PvscanError(f"{feature} needs the '{extra}' extra, which is not installed: "
                          f"pip install 'pvscan[{extra}]'")


def format_location(path: str | None, line: int | None, message: str) -> str:
    """'path:line: message', always one line: a control character in a file name (or a
    message quoting one) is shown escaped, and bytes that are not UTF-8 as \\xNN."""
    if path is None:
        text = message
    elif line is None:
        text = f"{path}: {message}"
    else:
        text = f"{path}:{line}: {message}"
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def printable(text: str, keep_tab: bool = False) -> str:
    """Text from the tree or a patch, fit for a terminal or a CI log: every control character
    (an ESC that would colour or move the cursor, a newline that would start a line of its
    own) shown escaped ('\\x1b', '\\n'); a tab kept where the text is quoted code."""
    pattern = _CONTROL_BUT_TAB if keep_tab else _CONTROL
    return pattern.sub(lambda m: repr(m.group())[1:-1], text)


@dataclass(frozen=True, order=True)
class Warning_:
    """A problem the run survived (a skipped file, an ambiguous reference)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return format_location(self.path, self.line or None, self.message)


def print_warnings(warnings: Iterable[Warning_], stream: TextIO = sys.stderr) -> None:
    for w in sorted(set(warnings)):
        print(f"pvscan: warning: {w}", file=stream)
