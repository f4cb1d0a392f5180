"""A kernel tree in a directory, and the only way pvscan reads from it.

pvscan never writes into the tree and never runs anything from it. Every
read goes through KernelTree.read(), which refuses paths that leave the tree
(through '..' or a symlink), binary files and files over the size limit.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError, Warning_
from pvscan.run import Run
from pvscan.source.files import (
    MAX_FILE_BYTES,
    SOURCE_SUFFIXES,
    KernelVersion,
    SkippedFile,
    parse_version,
    read_regular,
    searched_entry,
)
from pvscan.source.search import MatchingLines, Searched, tree_search
from pvscan.source.top import kernel_top

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pvscan.source.git import Repository


class KernelTree:
    """A kernel tree in a directory, read for one run (a tree opened without a run is a run of
    its own). remembered_search: candidates() gives the checkout's last search at once, and
    search_stands() checks it against git's answer after the work (a review's way)."""

    def __init__(self, path: str | os.PathLike, run: Run | None = None, *, remembered_search: bool = False) -> None:
        self.run = run or Run()
        given = Path(path)
        if not given.exists():
            raise PvscanError("no such directory", str(path))
        if not given.is_dir():
            raise PvscanError("not a directory (expected a Linux kernel tree)", str(path))
        resolved = given.resolve()
        top = kernel_top(resolved)
        # A directory inside a tree (arch/x86/kernel, or '.' there) stands for the whole tree.
        self.root = top if top is not None else resolved
        self.display = str(path) if top in (None, resolved) else str(top)
        self._start()
        self.trust_remembered_search = remembered_search
        self.version = self._read_version()
        if not (self.root / "arch").is_dir() and not (self.root / "include").is_dir():
            raise PvscanError("not a Linux kernel tree: no arch/ or include/ directory", str(path))

    @classmethod
    def trusted(cls, root: str, run: Run | None = None) -> KernelTree:
        """A tree already checked by the parent process (for worker processes)."""
        tree = cls.__new__(cls)
        tree.run = run or Run()
        tree.root = Path(os.path.realpath(root))     # a temporary folder may be reached by a symlink
        tree.display = root
        tree._start()
        return tree

    def _start(self) -> None:
        """What a tree object learns as a run reads it, none of it known yet."""
        self._real_dirs: dict[str, str | None] = {}   # relative directory -> its real path, None outside the tree
        self._candidates: list[str] | None = None
        self._repository: Repository | bool | None = None    # False: the tree is no git checkout
        self.wrapper_hint: frozenset[str] = frozenset()   # names whose calls the first search also finds
        self.searched_wrappers: frozenset[str] = frozenset()   # the names it did look for
        self.remembered_wrappers: frozenset[str] = frozenset()   # the names the cache had from the last scan
        self.calls_found: MatchingLines = {}             # path -> ((line, text), ...) calling one of them
        # A review's search: the checkout's remembered one at once, git's answer after the work
        # (search_stands).
        self.trust_remembered_search = False
        # ((candidates, calls), warnings) taken from the remembered search
        self._assumed: tuple[Searched, list[Warning_]] | None = None
        # the same, as search_stands found them when they differed
        self._corrected: tuple[Searched, list[Warning_]] | None = None
        self._oversized: dict[str, int] | None = None      # oversized_sources(), once found
        self._oversized_find: subprocess.Popen[bytes] | None = None   # the find process start_oversized() started
        self._oversized_lock = threading.Lock()

    def _read_version(self) -> KernelVersion:
        """From the head of the top-level Makefile: read as any tree file is (a regular file,
        inside the tree), but only its first 4 KiB, where VERSION and PATCHLEVEL are."""
        where = self.display + "/Makefile"
        real = Path(os.path.realpath(self.root / "Makefile"))
        if self.root not in real.parents:
            raise PvscanError("not a Linux kernel tree: the top-level Makefile points outside the tree", where)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            raise PvscanError("not a Linux kernel tree: no top-level Makefile", self.display) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PvscanError("not a Linux kernel tree: the top-level Makefile is not a regular file", where)
            head = os.read(fd, 4096)
        except OSError as e:
            raise PvscanError(f"cannot read: {e.strerror}", where) from None
        finally:
            os.close(fd)
        return parse_version(head, where)

    def close(self) -> None:
        """Nothing to release (a git source has a reader process to end)."""

    # A directory can change between two runs: its candidate list is never cached.
    cache_key = None
    commit = None

    def candidates(self, warnings: list[Warning_]) -> list[str]:
        """The files a text search finds (source.search), searched once per tree object:
        what the search warns about goes to the first caller's warnings. The same search
        finds the calls of the names in wrapper_hint (set before it runs): calls_found."""
        if self._candidates is None:
            found: Searched | None = None
            told: list[Warning_] = []
            if self._corrected is not None:
                found, told = self._corrected
            elif self.is_checkout():
                from pvscan.source.checkout import remembered_search, search_checkout

                remembered = remembered_search(self, self.wrapper_hint) if self.trust_remembered_search else None
                if remembered is not None:
                    found, told = remembered[:2], remembered[2]
                    self._assumed = found, told
                else:
                    found = search_checkout(self, self.wrapper_hint, told)
            self._candidates, self.calls_found = found or tree_search(self, self.wrapper_hint, told)
            warnings.extend(told)
            self.searched_wrappers = self.wrapper_hint
        return self._candidates

    def search_stands(self) -> bool:
        """Whether what candidates() gave from the checkout's remembered search (with
        trust_remembered_search) is what the search gives now: git is asked what changed since,
        and those files are searched again. When the candidates, their calls or the files
        skipped differ, the tree forgets what it gave, its next candidates() gives the search's
        answer, and the caller does its work again. True when nothing was assumed."""
        if self._assumed is None:
            return True
        from pvscan.source.checkout import search_checkout

        assumed, self._assumed = self._assumed, None
        told: list = []
        found = search_checkout(self, self.wrapper_hint, told) or tree_search(self, self.wrapper_hint, told)
        if found == assumed[0] and set(told) == set(assumed[1]):
            return True
        self._candidates = None
        self._corrected = found, told
        return False

    def is_checkout(self) -> bool:
        """Whether the tree is the top of a git checkout (its search can then be incremental)."""
        if self._repository is None:
            from pvscan.source.git import Repository

            try:
                repo = Repository(str(self.root), self.run)
                self._repository = repo if str(self.root) in repo.places else False
            except PvscanError:
                self._repository = False
        return bool(self._repository)

    def blob(self, oid: str) -> bytes | None:
        """A git blob by its id (a patch's 'index' line names them) when the tree is the top of a
        git checkout that has it; None otherwise. Runs only git cat-file on the repository."""
        if not self.is_checkout():
            return None
        from pvscan.source.git import read_blob

        return read_blob(str(self.root), oid)

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """True if path (absolute, or relative to the cwd) lies inside the tree."""
        return self._inside(os.path.realpath(path))

    def read(self, rel: str) -> bytes:
        """The bytes of a source file, by its path relative to the tree."""
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            raise SkippedFile("path escapes the tree")
        parent, _, name = rel.rpartition("/")
        real_dir = self._real_dir(parent)
        if real_dir is None:
            raise SkippedFile("symlink points outside the tree")
        path = os.path.join(real_dir, name)
        if os.path.islink(path):
            # A file that is a symlink: where it leads must be inside the tree too.
            real = os.path.realpath(path)
            if real == str(self.root) or not self._inside(real):
                raise SkippedFile("symlink points outside the tree")
            data = read_regular(real, MAX_FILE_BYTES)
        else:
            # O_NOFOLLOW: a symlink put there since the check above is refused, not followed.
            data = read_regular(path, MAX_FILE_BYTES, follow=False)
        if b"\0" in data:
            raise SkippedFile("binary file (NUL bytes)")
        return data

    def _real_dir(self, parent: str) -> str | None:
        """The real path of a directory of the tree (relative), None when it leads out of the
        tree. Built from its parent's, one lstat a directory: resolving every file's whole path
        again cost a check of 6.12's 1,606 Kconfig files, one a directory, twice the time of
        reading them."""
        if parent not in self._real_dirs:
            real: str | None
            if not parent:
                real = str(self.root)
            else:
                up, _, name = parent.rpartition("/")
                base = self._real_dir(up)
                path = os.path.join(base, name) if base is not None else None
                real = path
                if path is not None and os.path.islink(path):
                    real = os.path.realpath(path)
                    if not self._inside(real):
                        real = None
            self._real_dirs[parent] = real
        return self._real_dirs[parent]

    def _inside(self, real: str) -> bool:
        """Whether a real path is the tree's top or lies under it."""
        return real == str(self.root) or real.startswith(str(self.root).rstrip("/") + "/")

    def is_dir(self, rel: str) -> bool:
        """Whether rel is a directory of the tree itself, reached through no symlink."""
        if os.path.isabs(rel) or ".." in Path(rel).parts:
            return False
        real = self._real_dir(rel.strip("/"))
        return real == str(self.root / rel.strip("/")) and os.path.isdir(real)

    def arch_subdirs(self) -> dict[str, frozenset[str]]:
        """{arch: the directories right under arch/<arch>/}, of the tree itself (no symlink)."""
        out = {}
        for arch in _dirs_in(self.root / "arch"):
            if self.is_dir(f"arch/{arch}"):
                out[arch] = frozenset(_dirs_in(self.root / "arch" / arch))
        return out

    def walk_sources(self, only_dirs: Iterable[str] | None = None):
        """Relative paths of every regular file the searches read (files.is_searched: .c/.h, no
        hidden part, no excluded top directory), in only_dirs (relative directories) when
        given, sorted; symlinks are not followed.

        Not following directory symlinks is what keeps a symlink loop from
        hanging the walk; symlinked files, FIFOs, devices and sockets are
        left out as ripgrep leaves them, so both searches list the same files.
        Names that are not UTF-8 are kept as the file system has them
        (surrogate escapes), as os.fsdecode gives ripgrep's output.
        """
        return sorted(rel for rel, _entry in self._source_entries(only_dirs))

    def _source_entries(self, only_dirs: Iterable[str] | None = None):
        """(relative path, os.DirEntry) of each file walk_sources() lists, in no order."""
        stack = [("", str(self.root))]
        if only_dirs:
            # Only directories of the tree itself: none reached through a symlink.
            given = [(rel, str(self.root / rel)) for rel in (d.strip("/") for d in only_dirs)]
            stack = [(rel, full) for rel, full in given if os.path.realpath(full) == full]
        while stack:
            rel_dir, full = stack.pop()
            try:
                entries = list(os.scandir(full))
            except OSError:
                continue
            for e in entries:
                if not searched_entry(rel_dir, e.name):
                    continue
                rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
                try:
                    if e.is_dir(follow_symlinks=False):
                        stack.append((rel, e.path))
                    elif e.name.endswith(SOURCE_SUFFIXES) and e.is_file(follow_symlinks=False):
                        yield rel, e
                except OSError:
                    continue

    def start_oversized(self) -> None:
        """Start finding the files over the read limit (oversized_sources) in a process beside
        the search: GNU find. Its stat of 55,000 files costs the scan of 6.12 about 0.3 s on two
        cores (1.3 s -> 1.6 s), the price of skipping a 20 GB file unread without missing a
        word about it; a walk in Python cost as much, and held the interpreter."""
        import shutil

        find = shutil.which("find")
        if find is None or self._oversized_find is not None:
            return
        try:
            self._oversized_find = subprocess.Popen(
                [find, "-P", ".", "-type", "f", "-size", f"+{MAX_FILE_BYTES}c",
                 "(", *[arg for suffix in SOURCE_SUFFIXES for arg in ("-name", f"*{suffix}", "-o")][:-1], ")",
                 "-printf", "%s %p\\0"],
                cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except OSError:
            self._oversized_find = None

    def oversized_sources(self) -> dict[str, int]:
        """{relative path: size} of the files walk_sources() lists that are over the read limit,
        found once per tree object (ripgrep skips them unread, --max-filesize; the searches
        warn about those whose head matches, as the Python walk does)."""
        with self._oversized_lock:
            if self._oversized is None:
                self._oversized = self._oversized_by_find()
                if self._oversized is None:
                    self._oversized = self._oversized_by_walk()
            return self._oversized

    def _oversized_by_find(self) -> dict[str, int] | None:

        proc = self._oversized_find
        if proc is None:
            return None
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
        if proc.returncode != 0:
            return None
        found = {}
        for record in out.split(b"\0"):
            size, _, path = record.partition(b" ./")
            rel = os.fsdecode(path)
            parts = rel.split("/")
            # The same files as walk_sources: no hidden part, no excluded top directory.
            if size.isdigit() and rel and all(searched_entry("/".join(parts[:i]), name)
                                              for i, name in enumerate(parts)):
                found[rel] = int(size)
        return dict(sorted(found.items()))

    def _oversized_by_walk(self) -> dict[str, int]:
        found = {}
        for rel, entry in self._source_entries():
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if size > MAX_FILE_BYTES:
                found[rel] = size
        return dict(sorted(found.items()))


def _dirs_in(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []
