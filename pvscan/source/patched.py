"""A source with patches applied in memory: the base tree's files, some replaced or deleted."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pvscan.naming import CANDIDATE_RE
from pvscan.source.files import MissingFile, SkippedFile

if TYPE_CHECKING:
    from pvscan.source import Source


class PatchedSource:
    """base, with overlay[rel] in place of each changed file (None: deleted).

    A file is a candidate when its text, as patched, names what candidates
    name: a patch can make a file a candidate or stop it being one.
    """

    def __init__(self, base: Source, overlay: dict[str, bytes | None] | None = None) -> None:
        self.base = base
        self.run = base.run
        self.overlay = dict(overlay or {})
        self.display = base.display
        self.version = base.version
        self.cache_key = None
        self.commit = None

    def arch_subdirs(self) -> dict:
        """The base tree's (a patch of .c/.h files adds no backend directory)."""
        return self.base.arch_subdirs() if hasattr(self.base, "arch_subdirs") else {}

    def with_overlay(self, changes: dict[str, bytes | None]) -> PatchedSource:
        return PatchedSource(self.base, {**self.overlay, **changes})

    def get(self, rel: str | None) -> bytes | None:
        """The file as patched, or None when it is absent (or not readable as source)."""
        if rel is None:
            return None
        if rel in self.overlay:
            return self.overlay[rel]
        try:
            return self.base.read(rel)
        except SkippedFile:
            return None

    def why_absent(self, rel: str) -> str:
        """Why get(rel) gives None, for a hunk that cannot be placed there: the tree (as the
        patches before left it) has no such file, or read() refuses what is there (over the
        size limit, binary, a symlink out of the tree), which is no reason to call it absent."""
        if rel not in self.overlay:
            try:
                self.base.read(rel)
            except MissingFile:
                pass
            except SkippedFile as e:
                return f"the file cannot be read: {e}"
        return "the file is not in the tree"

    def candidates(self, warnings: list) -> list[str]:
        kept = {rel for rel in self.base.candidates(warnings) if rel not in self.overlay}
        changed = {rel for rel, data in self.overlay.items() if data is not None and CANDIDATE_RE.search(data)}
        return sorted(kept | changed)

    def read(self, rel: str) -> bytes:
        if rel in self.overlay:
            data = self.overlay[rel]
            if data is None:
                raise SkippedFile("deleted by the patch")
            return data
        return self.base.read(rel)

    def blob(self, oid: str) -> bytes | None:
        return self.base.blob(oid)

    def contains(self, path: str | os.PathLike[str]) -> bool:
        return self.base.contains(path)

    def close(self) -> None:
        self.base.close()
