"""What pvscan reads from any source, and what it refuses: the rules every Source follows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pvscan.errors import PvscanError

# Directories that hold no kernel C built into the image: userspace copies of
# kernel headers live under tools/ (objtool, perf) and would otherwise show up
# as a second definition of every ops struct.
EXCLUDED_DIRS = ("tools", "Documentation", "samples", "scripts", "usr", "LICENSES", ".git")

SOURCE_SUFFIXES = (".c", ".h")

MAX_FILE_BYTES = 8 * 1024 * 1024


class SkippedFile(Exception):
    """A file that cannot be read as C source; the run goes on without it."""


@dataclass(frozen=True)
class KernelVersion:
    version: int
    patchlevel: int
    sublevel: int
    extraversion: str

    def __str__(self) -> str:
        return f"{self.version}.{self.patchlevel}.{self.sublevel}{self.extraversion}"


def parse_version(makefile_head: bytes, where: str) -> KernelVersion:
    head = makefile_head[:4096].decode("utf-8", "replace")
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(\S*)", head, re.M))
    try:
        return KernelVersion(int(fields["VERSION"]), int(fields["PATCHLEVEL"]),
                             int(fields.get("SUBLEVEL") or 0), fields.get("EXTRAVERSION", ""))
    except (KeyError, ValueError):
        raise PvscanError("not a Linux kernel tree: the top-level Makefile sets no VERSION/PATCHLEVEL",
                          where) from None
