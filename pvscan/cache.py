"""The cache outside the tree: one Store per kind of fact, each declared by the layer that makes
the fact (pipeline: a file's facts, the wrappers' calls in it, a tree's wrapper names;
source.checkout: a checkout's last search and untracked files; source.git: a commit's
candidate list; kconfig: what a Kconfig says; abi.tomlfile: parsed TOML files; kept: a scan's
whole output). This module holds what they share (where an entry lives, its format stamp,
its size limit, reading it safely, pruning) and imports nothing of pvscan but the Run.

~/.cache/pvscan/ (XDG_CACHE_HOME, or PVSCAN_CACHE_DIR). A facts entry is
keyed by the file's path and bytes and by the source of the modules that
make facts, so a change to the parser never reads stale facts.

The cache is safe to share between CI jobs and branches: entries are
plain JSON (pvscan.facts.codec), versioned, and validated field by field
on every read. An entry that is not a regular file, is too big, or does
not decode to exactly what pvscan writes is a miss: it is recomputed,
the run says so once, and nothing in it is trusted or executed. Writes
are atomic; a cache that cannot be written is not used. A cache directory
that lies inside the tree being read is not used at all. Entries unused for a
month, then the least recently used beyond a size, are pruned once a day
(prune_used; docs/scan.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from pvscan.run import Run

if TYPE_CHECKING:
    from pvscan.source import Source

K = TypeVar("K")
V = TypeVar("V")

FORMAT = "pvscan-cache/2"
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENTRY_BYTES = 64 * 1024 * 1024


def _inside(path: str | os.PathLike[str], top: str) -> bool:
    """Whether path (its real path) is top or lies below it."""
    real = os.path.realpath(path)
    return real == top or real.startswith(top.rstrip("/") + "/")


def cache_root() -> Path | None:
    """Where the cache lives; None when the environment names no absolute place for it: a
    relative XDG_CACHE_HOME is ignored, as the XDG specification says, and a relative HOME
    (or PVSCAN_CACHE_DIR) would put the cache wherever the command happens to run."""
    explicit = os.environ.get("PVSCAN_CACHE_DIR")
    if explicit:
        return Path(explicit) if os.path.isabs(explicit) else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "pvscan"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return None
    return home / ".cache" / "pvscan" if home.is_absolute() else None


_HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def code_stamp() -> str:
    # Every module that makes facts or lists candidates: a change to any of
    # them must never read what an older version wrote.
    return _stamp(sorted((_HERE / "facts").glob("*.py")) + sorted((_HERE / "source").glob("*.py")))


@lru_cache(maxsize=1)
def package_stamp() -> str:
    """Every file of the package and its queries: a whole command's output depends on all of them."""
    return _stamp(sorted(_HERE.rglob("*.py")) + sorted(_HERE.rglob("*.toml"))
                  + sorted((_HERE.parent / "queries").glob("*.scm")))


def _stamp(paths: list[Path]) -> str:
    h = hashlib.sha256(FORMAT.encode())
    for path in paths:
        h.update(os.fsencode(path.relative_to(_HERE.parent)) + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


class BadEntry(Exception):
    """An entry that is not what its store writes: a miss, said once, recomputed."""


@dataclass(frozen=True)
class Store(Generic[K, V]):
    """One kind of fact the cache keeps, declared by the layer that makes it (the facts of a
    file by the pipeline, a checkout's last search by source.checkout ...): where its entries
    live, the stamp of what wrote them (FORMAT, or the code that computes the fact: a change
    to that code never reads what an older one wrote), how a key names its entry, and how a
    value is written and read back. decode raises BadEntry for an entry that is not one of
    this key; encode may give None for a value that is not kept."""

    folder: str
    stamp: Callable[[], str]
    name: Callable[[K], bytes]
    encode: Callable[[K, V], bytes | None]
    decode: Callable[[K, bytes], V]
    sharded: bool = False          # entries in folder/xx/ by the first two digits of their hash
    remember: bool = False         # what is decoded is kept on the run (a review reads it twice)


def json_store(folder: str, stamp: Callable[[], str], name: Callable[[K], str],
               to_json: Callable[[K, V], object], valid: Callable[[K, Any], bool],
               from_json: Callable[[Any], V], why: str) -> Store[K, V]:
    """A Store of JSON documents: to_json makes the document (None: not kept), valid checks
    one read back field by field (else it is 'why'), from_json makes the value of it."""
    def encode(key: K, value: V) -> bytes | None:
        doc = to_json(key, value)
        return None if doc is None else json.dumps(doc, ensure_ascii=True).encode("ascii")

    def decode(key: K, raw: bytes) -> V:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadEntry("not JSON") from None
        if not valid(key, doc):
            raise BadEntry(why)
        return from_json(doc)

    return Store(folder, stamp, lambda key: name(key).encode("utf-8", "surrogateescape"), encode, decode)


def format_stamp() -> str:
    """The stamp of entries whose meaning only this module's FORMAT changes."""
    return FORMAT


class Holder(Protocol):
    """What a cache must not be written into: a tree, which says whether a path is inside it."""

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """True if writing to path would write into it."""


class Cache:
    """The cache as one run sees it: a directory (or none) and the first problem it met."""

    def __init__(self, run: Run, root: Path | None, problem: str | None = None) -> None:
        self.run = run                  # what it decodes is kept there, what it says is said once there
        self.root = root
        self.problem = problem          # the first thing wrong with it, said once per run

    @classmethod
    def for_source(cls, source: Source) -> Cache:
        """The user's cache for what a tree (source) reads, as the tree's run sees it."""
        return cls.for_run(source.run, source)

    @classmethod
    def for_run(cls, run: Run, source: Holder | None = None) -> Cache:
        """The user's cache, unless it is turned off or lies inside the tree being read (this
        source, or any tree the run reads: Run.reading, for entries of no source)."""
        if os.environ.get("PVSCAN_NO_CACHE"):
            return cls(run, None)
        root = cache_root()
        if root is None:
            return cls(run, None, "no absolute cache directory (HOME, XDG_CACHE_HOME or PVSCAN_CACHE_DIR is "
                                  "relative); not used")
        if (source is not None and source.contains(root)) or run.reads_inside(root):
            return cls(run, None, f"the cache directory {root} is inside the tree; not used")
        run.cache_roots.add(root)
        return cls(run, root)

    @classmethod
    def for_source_root(cls, run: Run, tree_root: str) -> Cache:
        """for_run() of the directory tree whose real path is tree_root."""
        class _Root:
            @staticmethod
            def contains(path: str | os.PathLike[str]) -> bool:
                return _inside(path, tree_root)

        return cls.for_run(run, _Root())

    def tell(self) -> None:
        """Say on stderr, once per run, what was wrong with the cache. Not a warning about
        the tree: the output must not depend on what a cache held, so it never reaches it."""
        if self.problem:
            self.run.tell_once(self.problem, f"pvscan: warning: cache: {self.problem}")

    def get(self, store: Store[K, V], key: K) -> V | None:
        """The value the store keeps for key; None for a miss (a bad entry is one, said once)."""
        path = self._path(store, key)
        if path is None:
            return None
        if store.remember and str(path) in self.run.decoded:
            # What this store decoded before, kept on the run by the entry's path: a V.
            return cast(V, self.run.decoded[str(path)])
        raw = self._read(path)
        if raw is None:
            return None
        try:
            value = store.decode(key, raw)
        except BadEntry as e:
            return self._bad(path, str(e))
        if store.remember:
            self.run.remember_decoded(str(path), value)
        return value

    def put(self, store: Store[K, V], key: K, value: V) -> None:
        path = self._path(store, key)
        data = store.encode(key, value) if path is not None else None
        if path is not None and data is not None:
            _atomic_write(path, data)

    def _path(self, store: Store[K, V], key: K) -> Path | None:
        """Where the entry for key lives: named by a hash of the store's stamp and the key."""
        if self.root is None:
            return None
        h = hashlib.sha256(store.stamp().encode() + b"\0" + store.name(key)).hexdigest()
        return self.root / store.folder / h[:2] / f"{h}.json" if store.sharded else self.root / store.folder / f"{h}.json"

    def _read(self, path: Path) -> bytes | None:
        """An entry's bytes; None for a miss. Only a regular file, never followed through a
        symlink, never waited on (a FIFO), never read past MAX_ENTRY_BYTES."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as e:
            return self._bad(path, f"cannot be used: {e.strerror or e}")
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
                why = "not a regular file" if not stat.S_ISREG(st.st_mode) else \
                    f"file is {st.st_size} bytes, over the {MAX_ENTRY_BYTES}-byte limit"
                return self._bad(path, f"cannot be used: {why}")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(MAX_ENTRY_BYTES + 1)
            if len(data) > MAX_ENTRY_BYTES:     # it grew since fstat
                return self._bad(path, f"cannot be used: over the {MAX_ENTRY_BYTES}-byte limit")
        except OSError as e:
            return self._bad(path, f"cannot be used: {e.strerror or e}")
        finally:
            os.close(fd)
        try:
            os.utime(path, follow_symlinks=False)   # used now: the last to go when pruning
        except OSError:
            pass                                    # a cache shared read-only
        return data

    def _bad(self, path: Path, why: str):
        if self.problem is None:
            self.problem = f"entry {path} {why}; ignored and recomputed"
        return None


# -- pruning ---------------------------------------------------------------------------

# The folders of entries: pruning never looks elsewhere (the scripts keep kernels beside them).
ENTRY_FOLDERS = ("facts", "calls", "trees", "wrappers", "outputs", "kconfig", "toml")
DEFAULT_MAX_DAYS = 30
DEFAULT_MAX_MB = 1024
_PRUNE_EVERY = 24 * 3600
_PRUNE_STAMP = ".pruned"


def prune_used(run: Run) -> None:
    """Prune each cache the run used, when its last pruning is a day old (pvscan.cli, at the end)."""
    for root in sorted(run.cache_roots):
        if run.reads_inside(root):
            continue
        stamp = root / _PRUNE_STAMP
        if _fresh(stamp):
            continue
        _atomic_write(stamp, b"")
        if not _fresh(stamp):
            continue        # a cache this run cannot write (shared read-only): not pruned by it
        prune(root, _limit(run, "PVSCAN_CACHE_MAX_DAYS", DEFAULT_MAX_DAYS) * 86400,
              _limit(run, "PVSCAN_CACHE_MAX_MB", DEFAULT_MAX_MB) * 1024 * 1024)


def _fresh(stamp: Path) -> bool:
    try:
        return stamp.stat().st_mtime > _now() - _PRUNE_EVERY
    except OSError:
        return False


def prune(root: Path, max_age_s: float, max_bytes: int) -> tuple[int, int]:
    """Remove the entries unused (not read or written) for max_age_s, then the least recently
    used until the entries take at most max_bytes. (entries removed, bytes left)."""
    entries = []
    for folder in ENTRY_FOLDERS:
        for where, dirs, files in os.walk(root / folder):
            for name in files:
                path = os.path.join(where, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, path))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    removed = 0
    oldest = _now() - max_age_s
    for mtime, size, path in entries:
        if mtime >= oldest and total <= max_bytes:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        removed += 1
    return removed, total


def _limit(run: Run, name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.isdigit():
        return int(value)
    run.tell_once(name, f"pvscan: warning: {name}={value!r} is not a whole number; {default} is used")
    return default


def _now() -> float:
    import time

    return time.time()


def tree_path(rel: object) -> bool:
    """A relative path inside a tree: what a candidate list may hold."""
    return (isinstance(rel, str) and rel != "" and not rel.startswith("/") and "\0" not in rel
            and ".." not in rel.split("/"))


def tree_paths(paths: Iterable[object]) -> bool:
    """tree_path() of each of many paths ('.', the top, too): the paths joined by NUL searched
    for what only a bad one holds (an empty or absolute path, a '..' part), which is many times
    quicker than splitting thousands of paths."""
    given = [p for p in paths if p != "."]
    rest = [p for p in given if type(p) is str]
    if len(rest) != len(given) or not all(p and "\0" not in p for p in rest):
        return False
    joined = "\0" + "\0".join(rest) + "\0"
    if "\0/" in joined:
        return False
    return ".." not in joined or all(tree_path(p) for p in rest)


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile  # only to write: a run that finds all it needs writes nothing

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError:
        pass
