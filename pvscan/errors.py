"""The one exception type users see, and the warnings channel.

Every problem with the input becomes a PvscanError carrying the file and
line it is about; the CLI catches it once and prints one line.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


class PvscanError(Exception):
    """Input or usage error: the run cannot go on (exit code 2)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        return format_location(self.path, self.line, self.message)


def format_location(path: str | None, line: int | None, message: str) -> str:
    if path is None:
        return message
    if line is None:
        return f"{path}: {message}"
    return f"{path}:{line}: {message}"


@dataclass(frozen=True, order=True)
class Warning_:
    """A problem the run survived (a skipped file, an ambiguous reference)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return format_location(self.path, self.line or None, self.message)


def print_warnings(warnings, stream=sys.stderr) -> None:
    for w in sorted(set(warnings)):
        print(f"pvscan: warning: {w}", file=stream)
