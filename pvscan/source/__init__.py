"""Where files come from: a kernel tree as a set of files pvscan may read.

Takes a path (a directory: directory.KernelTree), a git revision read from
the object store, never checked out (git.GitTree), or either one with
patches applied in memory (patched.PatchedSource); gives a Source. Nothing
here parses C.
"""

from __future__ import annotations

from typing import Protocol

from pvscan.run import Run


class Source(Protocol):
    """What the pipeline needs of a tree, whatever holds its files."""

    display: str              # how the user named it, for messages
    version: object           # directory.KernelVersion, from the top-level Makefile
    commit: str | None        # the git commit it is, if it is one

    cache_key: str | None     # a name for exactly this content (a commit), or None when it can change
    run: Run                  # the run that reads it: what reading it learns is kept there

    def candidates(self, warnings: list) -> list[str]:
        """Sorted relative paths of the .c/.h files that name a table, a PVOP_* macro or the
        callee-save type; computed once per source."""

    def read(self, rel: str) -> bytes:
        """One file's bytes; raises directory.SkippedFile for a file that cannot be C source."""

    def arch_subdirs(self) -> dict:
        """{arch: frozenset of the directories right under arch/<arch>/}: where backends live."""

    def blob(self, oid: str) -> bytes | None:
        """A git blob by id, when the source is (or sits on) a git repository that has it."""

    def contains(self, path) -> bool:
        """True if writing to path would write into the tree."""

    def close(self) -> None:
        """Release what reading needed (a git reader process)."""
