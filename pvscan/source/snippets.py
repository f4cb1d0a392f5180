"""Evidence snippets: the source lines around a location, read through the tree.

A stage of its own so that reporters never open files: a command asks for
the snippets it will show and hands them to the reporter with the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.source.directory import KernelTree
from pvscan.source.files import SkippedFile

if TYPE_CHECKING:
    from pvscan.inventory.model import Op


@dataclass(frozen=True)
class Snippet:
    """The lines of a file around a location, for a report to show."""

    file: str
    first: int          # 1-based line of text's first line
    focus: int          # the line the location names
    text: str           # the lines, joined with '\n'


def collect(tree: KernelTree, locations: list[tuple[str, int]], context: int = 2) -> dict:
    """{(file, line): Snippet} for each (file, line) that can be read."""
    out = {}
    cache: dict[str, list[str] | None] = {}
    for file, line in sorted(set(locations)):
        if file not in cache:
            try:
                cache[file] = tree.read(file).decode("utf-8", "replace").split("\n")
            except SkippedFile:
                cache[file] = None
        lines = cache[file]
        if not lines or line < 1 or line > len(lines):
            continue
        first = max(1, line - context)
        last = min(len(lines), line + context)
        out[(file, line)] = Snippet(file, first, line, "\n".join(lines[first - 1:last]))
    return out


def op_locations(op: Op) -> list[tuple[str, int]]:
    """Where an op shows: its declaration, call sites and implementations."""
    locs = [(op.file, op.line)]
    locs += [(c.file, c.line) for c in op.call_sites]
    locs += [(i.file, i.line) for i in op.implementations]
    locs += [(c.file, c.line) for c in op.cleared_by]
    return locs
