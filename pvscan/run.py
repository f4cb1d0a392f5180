"""One invocation of pvscan, and what it learns while it runs.

A command makes a Run and hands it down: the trees it opens carry it (KernelTree, GitTree,
and a patched tree its base's), and what reaches the cache or git without a tree is given it.
Every layer keeps what it learns on it, never in its module: the trees the run reads (a cache
inside one is never written), the cache entries it decoded and the cache roots it used, the
'git status' begun early and the search record read ahead, git's answers, and what it has
told the user once. When the command returns, the run is gone with all of it: two runs in one
process, one after the other or at once on two threads, share nothing but the disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pvscan.source.files import KernelVersion


# A review reads each unchanged file's facts twice (the tree before and after the patch); past
# this many decoded entries the run forgets them and reads the cache again.
MAX_DECODED = 4096


@dataclass(eq=False)
class Run:
    """What one invocation has learned so far (see the module's docstring)."""

    # Real paths of the trees and repositories the run reads: a cache inside one is not used.
    trees_read: list[str] = field(default_factory=list)
    # The cache directories the run used: pruned when it ends (cache.prune_used).
    cache_roots: set[Path] = field(default_factory=set)
    # What was said on stderr once (a cache problem, a missing ripgrep, a bad limit), by key.
    told: set[str] = field(default_factory=set)
    # Entries decoded from the cache, of the stores that remember them (a file's facts): entry path
    # -> value. An entry's name is a hash of its key and stamp, so a name always means the same.
    decoded: dict[str, object] = field(default_factory=dict)
    # A checkout's root -> the 'git status' of its tracked files begun before the imports.
    status_begun: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # A checkout's root -> (tree id, status) run_state asked, for the search that follows.
    status_collected: dict[str, tuple] = field(default_factory=dict)
    # A checkout's root -> the search record remembered_search read, for search_checkout.
    search_read_ahead: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A repository's path -> the real paths of its git directory and work tree.
    git_places: dict[str, list[str]] = field(default_factory=dict)
    # (repository, full commit id) -> commit: only what cannot change (a branch is asked each time).
    git_commits: dict[tuple[str, str], str] = field(default_factory=dict)
    # (repository, commit) -> its KernelVersion, read from its Makefile once.
    git_versions: dict[tuple[str, str], KernelVersion] = field(default_factory=dict)

    def reading(self, path: str | os.PathLike) -> None:
        """The run reads the tree (or repository) at path: a cache inside it is never written."""
        self.trees_read.append(os.path.realpath(path))

    def reads_inside(self, path: str | os.PathLike) -> bool:
        """Whether path lies in (or is) a tree or repository the run reads."""
        real = os.path.realpath(path)
        return any(real == top or real.startswith(top.rstrip("/") + "/") for top in self.trees_read)

    def tell_once(self, key: str, line: str) -> None:
        """Print line on stderr the first time this run meets key: a note about pvscan's own
        setting (its cache, its search), never about the tree, so never part of the output."""
        if key not in self.told:
            self.told.add(key)
            print(line, file=sys.stderr)

    def remember_decoded(self, path: str, value: object) -> None:
        """Keep what a cache entry decoded to, by the entry's path, up to MAX_DECODED entries."""
        if len(self.decoded) >= MAX_DECODED:
            self.decoded.clear()
        self.decoded[path] = value

    def end(self) -> None:
        """Stop what the run began and did not collect ('git status' of a tree it did not search)."""
        for proc in self.status_begun.values():
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        self.status_begun.clear()
