"""A kernel tree in a directory, and the only way pvscan reads from it.

pvscan never writes into the tree and never runs anything from it. Every
read goes through KernelTree.read(), which refuses paths that leave the tree
(through '..' or a symlink), binary files and files over the size limit.
"""

from __future__ import annotations

import os
from pathlib import Path

from pvscan.errors import PvscanError
from pvscan.source.search import find_table_candidates
from pvscan.source.files import (EXCLUDED_DIRS, MAX_FILE_BYTES, SOURCE_SUFFIXES, KernelVersion, SkippedFile,
                                 parse_version)

class KernelTree:
    def __init__(self, path: str | os.PathLike):
        given = Path(path)
        if not given.exists():
            raise PvscanError("no such directory", str(path))
        if not given.is_dir():
            raise PvscanError("not a directory (expected a Linux kernel tree)", str(path))
        self.root = given.resolve()
        self.display = str(path)
        self._candidates = None
        self.version = self._read_version()
        if not (self.root / "arch").is_dir() and not (self.root / "include").is_dir():
            raise PvscanError("not a Linux kernel tree: no arch/ or include/ directory", str(path))

    @classmethod
    def trusted(cls, root: str) -> "KernelTree":
        """A tree already checked by the parent process (for worker processes)."""
        tree = cls.__new__(cls)
        tree.root = Path(root)
        tree.display = root
        tree._candidates = None
        return tree

    def _read_version(self) -> KernelVersion:
        makefile = self.root / "Makefile"
        try:
            head = makefile.read_bytes()[:4096]
        except OSError:
            raise PvscanError("not a Linux kernel tree: no top-level Makefile", self.display) from None
        return parse_version(head, self.display + "/Makefile")

    def close(self) -> None:
        """Nothing to release (a git source has a reader process to end)."""

    # A directory can change between two runs: its candidate list is never cached.
    cache_key = None
    commit = None

    def candidates(self, warnings: list) -> list[str]:
        """The files a text search finds (source.search), searched once per tree object:
        what the search warns about goes to the first caller's warnings."""
        if self._candidates is None:
            self._candidates = find_table_candidates(self, warnings)
        return self._candidates

    def contains(self, path: str | os.PathLike) -> bool:
        """True if path (absolute, or relative to the cwd) lies inside the tree."""
        real = Path(os.path.realpath(path))
        return real == self.root or self.root in real.parents

    def read(self, rel: str) -> bytes:
        """The bytes of a source file, by its path relative to the tree."""
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            raise SkippedFile("path escapes the tree")
        full = self.root / rel
        real = Path(os.path.realpath(full))
        if self.root not in real.parents:
            raise SkippedFile("symlink points outside the tree")
        try:
            size = real.stat().st_size
            if size > MAX_FILE_BYTES:
                raise SkippedFile(f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
            data = real.read_bytes()
        except OSError as e:
            raise SkippedFile(f"cannot read: {e.strerror or e}") from None
        if b"\0" in data:
            raise SkippedFile("binary file (NUL bytes)")
        return data

    def walk_sources(self):
        """Relative paths of every .c/.h file, sorted; symlinks are not followed.

        Not following directory symlinks is what keeps a symlink loop from
        hanging the walk; symlinked files are left out as ripgrep leaves them.
        """
        out = []
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            rel_dir = os.path.relpath(dirpath, root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d not in EXCLUDED_DIRS]
                rel_dir = ""
            dirnames.sort()
            for name in filenames:
                if name.endswith(SOURCE_SUFFIXES) and not os.path.islink(os.path.join(dirpath, name)):
                    out.append(f"{rel_dir}/{name}" if rel_dir else name)
        out.sort()
        return out
