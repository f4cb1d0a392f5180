"""Where files come from: a kernel tree as a set of files pvscan may read.

Takes a path (a directory: directory.KernelTree), a git revision read from
the object store, never checked out (git.GitTree), or either one with
patches applied in memory (patched.PatchedSource); gives a Source. Nothing
here parses C.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pvscan.run import Run

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pvscan.errors import Warning_
    from pvscan.source.files import KernelVersion


class Source(Protocol):
    """What the pipeline needs of a tree, whatever holds its files."""

    # Read-only to the pipeline: each kind of tree has them as it can (an attribute, a property,
    # a class constant: a directory is never one commit).
    @property
    def display(self) -> str:
        """How the user named it, for messages."""

    @property
    def version(self) -> KernelVersion:
        """From the top-level Makefile."""

    @property
    def commit(self) -> str | None:
        """The git commit it is, if it is one."""

    @property
    def cache_key(self) -> str | None:
        """A name for exactly this content (a commit), or None when it can change."""

    @property
    def run(self) -> Run:
        """The run that reads it: what reading it learns is kept there."""

    def candidates(self, warnings: list[Warning_]) -> list[str]:
        """Sorted relative paths of the .c/.h files that name a table, a PVOP_* macro or the
        callee-save type; computed once per source."""

    def read(self, rel: str) -> bytes:
        """One file's bytes; raises directory.SkippedFile for a file that cannot be C source."""

    def arch_subdirs(self) -> dict[str, frozenset[str]]:
        """{arch: frozenset of the directories right under arch/<arch>/}: where backends live."""

    def blob(self, oid: str) -> bytes | None:
        """A git blob by id, when the source is (or sits on) a git repository that has it."""

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """True if writing to path would write into the tree."""

    def close(self) -> None:
        """Release what reading needed (a git reader process)."""


@runtime_checkable
class ListedSource(Source, Protocol):
    """A source whose directories can be listed: a directory (KernelTree) or a git revision
    (GitTree). A patched tree, an overlay of some files on another, cannot."""

    def is_dir(self, rel: str) -> bool:
        """Whether the tree holds a directory at rel."""

    def walk_sources(self, only_dirs: Iterable[str] | None = None) -> list[str]:
        """Relative paths of its .c/.h files (in only_dirs when given), sorted."""
