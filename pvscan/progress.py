"""One progress line on stderr, for people at a terminal: never in a pipe or a CI log unless asked.

It appears only once a run has taken a second, is redrawn at most ten
times a second, and is erased when the run ends, so what stays on the
screen is the output and the warnings.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

DELAY = 1.0          # seconds before the line first appears
INTERVAL = 0.1       # seconds between redraws


class Progress:
    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.width = 0

    @classmethod
    def for_terminal(cls, asked: bool | None) -> Progress:
        """asked: True (--progress), False (--no-progress) or None: only when stderr is a terminal."""
        if asked is None:
            asked = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        return cls(asked)

    def show(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and (now - self.started < DELAY or now - self.drawn_at < INTERVAL):
            return
        self.drawn_at = now
        line = f"pvscan: {text}"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def done(self) -> None:
        """Erase the line, if one was drawn."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


NONE = Progress(False)
