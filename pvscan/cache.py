"""Caches outside the tree: per-file facts and wrapper calls by content, a commit's candidate list,
the wrapper names of a tree's last scan, a checkout's last search and untracked files, kept
scan outputs, Kconfig facts and parsed TOML files.

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
from functools import lru_cache
from pathlib import Path

from pvscan.errors import Warning_
from pvscan.run import Run
from pvscan.source.files import SkippedFile, read_regular

FORMAT = "pvscan-cache/2"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENTRY_BYTES = 64 * 1024 * 1024


def _inside(path, top: str) -> bool:
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
def _code_stamp() -> str:
    # Every module that makes facts or lists candidates: a change to any of
    # them must never read what an older version wrote.
    return _stamp(sorted((_HERE / "facts").glob("*.py")) + sorted((_HERE / "source").glob("*.py")))


@lru_cache(maxsize=1)
def package_stamp() -> str:
    """Every file of the package and its queries: a whole command's output depends on all of them."""
    return _stamp(sorted(_HERE.rglob("*.py")) + sorted(_HERE.rglob("*.toml"))
                  + sorted((_HERE.parent / "queries").glob("*.scm")))


def _stamp(paths) -> str:
    h = hashlib.sha256(FORMAT.encode())
    for path in paths:
        h.update(os.fsencode(path.relative_to(_HERE.parent)) + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


class Cache:
    """The cache as one run sees it: a directory (or none) and the first problem it met."""

    def __init__(self, run: Run, root: Path | None, problem: str | None = None):
        self.run = run                  # what it decodes is kept there, what it says is said once there
        self.root = root
        self.problem = problem          # the first thing wrong with it, said once per run
        # The wrapper names of a call search, joined for the key once, not once a file: with
        # 20,000 files and their thousands of names, that join was most of a scan's time.
        self._joined_names: dict = {}

    @classmethod
    def for_source(cls, source) -> "Cache":
        """The user's cache for what a tree (source) reads, as the tree's run sees it."""
        return cls.for_run(source.run, source)

    @classmethod
    def for_run(cls, run: Run, source=None) -> "Cache":
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
    def for_source_root(cls, run: Run, tree_root: str) -> "Cache":
        """for_run() of the directory tree whose real path is tree_root."""
        class _Root:
            @staticmethod
            def contains(path) -> bool:
                return _inside(path, tree_root)

        return cls.for_run(run, _Root)

    def tell(self) -> None:
        """Say on stderr, once per run, what was wrong with the cache. Not a warning about
        the tree: the output must not depend on what a cache held, so it never reaches it."""
        if self.problem:
            self.run.tell_once(self.problem, f"pvscan: warning: cache: {self.problem}")

    # -- per-file facts -------------------------------------------------------

    def get_facts(self, rel: str, data: bytes):
        """(FileFacts, warnings) as put_facts stored them, or None."""
        from pvscan.facts.codec import DecodeError, decode
        from pvscan.facts.model import FileFacts

        if self.root is None:
            return None
        path = self._facts_path(rel, data)
        if path in self.run.decoded:
            facts, warnings = self.run.decoded[path]
            return facts, list(warnings)
        raw = self._read(path)
        if raw is None:
            return None
        try:
            facts, warnings = decode(raw, tuple[FileFacts, tuple[Warning_, ...]])
        except DecodeError as e:
            return self._bad(path, str(e))
        if facts.path != rel:
            return self._bad(path, f"holds the facts of {facts.path!r}")
        self.run.remember_decoded(path, (facts, warnings))
        return facts, list(warnings)

    def put_facts(self, rel: str, data: bytes, value) -> None:
        from pvscan.facts.codec import encode

        if self.root is not None:
            _atomic_write(self._facts_path(rel, data), encode(value))

    def _facts_path(self, rel: str, data: bytes) -> Path:
        h = hashlib.sha256(_code_stamp().encode() + b"\0" + os.fsencode(rel) + b"\0" + data).hexdigest()
        return self.root / "facts" / h[:2] / f"{h}.json"

    # -- the calls of the wrappers in one file --------------------------------------------------

    def get_calls(self, rel: str, data: bytes, names, rows):
        """The calls put_calls stored for these bytes, wrapper names and lines, or None."""
        from pvscan.facts.codec import DecodeError, decode
        from pvscan.facts.model import Call

        if self.root is None:
            return None
        path = self._calls_path(rel, data, names, rows)
        raw = self._read(path)
        if raw is None:
            return None
        try:
            calls = decode(raw, tuple[Call, ...])
        except DecodeError as e:
            return self._bad(path, str(e))
        if any(c.path != rel or c.callee not in names for c in calls):
            return self._bad(path, "holds calls of another file or wrapper")
        return list(calls)

    def put_calls(self, rel: str, data: bytes, names, rows, calls) -> None:
        from pvscan.facts.codec import encode

        if self.root is not None:
            _atomic_write(self._calls_path(rel, data, names, rows), encode(tuple(calls)))

    def _calls_path(self, rel: str, data: bytes, names, rows) -> Path:
        joined = self._joined_names.get(names)
        if joined is None:
            joined = self._joined_names[names] = " ".join(sorted(names)).encode()
        h = hashlib.sha256(_code_stamp().encode() + b"\0" + os.fsencode(rel) + b"\0"
                           + joined + b"\0" + repr(tuple(rows)).encode() + b"\0" + data)
        return self.root / "calls" / h.hexdigest()[:2] / f"{h.hexdigest()}.json"

    # -- what the last search of a git checkout found ------------------------------------------------

    def get_checkout(self, root: str) -> dict | None:
        """The last search of the checkout at root (source.checkout), checked field by field."""
        return self._read_json(self._hint_path(f"checkout\0{root}"), lambda doc: _checkout_state(doc, root),
                               "not the search of that checkout")

    def put_checkout(self, root: str, state: dict) -> None:
        self._write_json(self._hint_path(f"checkout\0{root}"), {"tree": root, **state})

    def get_worktree(self, root: str) -> dict | None:
        """The untracked and ignored sources of the checkout at root, with the modification time
        of each of its directories when they were listed (source.checkout)."""
        return self._read_json(self._hint_path(f"worktree\0{root}"), lambda doc: (
            isinstance(doc, dict) and doc.get("tree") == root
            and isinstance(doc.get("dirs"), dict) and "." in doc["dirs"] and _tree_paths(doc["dirs"])
            and all(type(t) is int for t in doc["dirs"].values())
            and isinstance(doc.get("others"), list) and all(_tree_path(p) for p in doc["others"])),
            "not the listing of that checkout")

    def put_worktree(self, root: str, listing: dict) -> None:
        self._write_json(self._hint_path(f"worktree\0{root}"), {"tree": root, **listing})

    # -- parsed TOML files (ABIs, backend maps) ------------------------------------------

    def get_document(self, raw: bytes) -> dict | None:
        """The TOML document these bytes parse to, as put_document stored it."""
        digest = hashlib.sha256(raw).hexdigest()
        doc = self._read_json(self._entry_path("toml", FORMAT, digest), lambda doc: (
            isinstance(doc, dict) and doc.get("sha256") == digest and isinstance(doc.get("document"), dict)),
            "not a parsed TOML document")
        return None if doc is None else doc["document"]

    def put_document(self, raw: bytes, document: dict) -> None:
        # Only what JSON gives back unchanged (TOML dates and NaN do not come back equal).
        try:
            same = json.loads(json.dumps(document)) == document
        except (TypeError, ValueError):
            same = False
        if same:
            digest = hashlib.sha256(raw).hexdigest()
            self._write_json(self._entry_path("toml", FORMAT, digest), {"sha256": digest, "document": document})

    # -- a commit's candidate list ------------------------------------------------

    def get_candidates(self, key: str) -> list[str] | None:
        doc = self._read_json(self._candidates_path(key), lambda doc: (
            isinstance(doc, dict) and doc.get("source") == key and isinstance(doc.get("candidates"), list)
            and all(_tree_path(x) for x in doc["candidates"])), "not a candidate list of that source")
        return None if doc is None else list(doc["candidates"])

    def put_candidates(self, key: str, candidates: list[str]) -> None:
        self._write_json(self._candidates_path(key), {"source": key, "candidates": sorted(candidates)})

    def _candidates_path(self, key: str) -> Path | None:
        # The code stamp: a candidate list is what this version's search finds.
        return self._entry_path("trees", _code_stamp(), key)

    # -- a tree's wrapper names, remembered for the next scan's single search ----------------

    def get_wrappers(self, key: str) -> frozenset:
        """The wrapper names the last scan of this tree found; empty when unknown. Only a hint:
        a name missing here is searched for afterwards, a name too many costs a little time."""
        doc = self._read_json(self._hint_path(key), lambda doc: (
            isinstance(doc, dict) and doc.get("tree") == key and isinstance(doc.get("wrappers"), list)
            and len(doc["wrappers"]) <= 100_000
            and all(isinstance(n, str) and _IDENT.fullmatch(n) for n in doc["wrappers"])),
            "not a list of wrapper names of that tree")
        return frozenset() if doc is None else frozenset(doc["wrappers"])

    def put_wrappers(self, key: str, names) -> None:
        self._write_json(self._hint_path(key), {"tree": key, "wrappers": sorted(names)})

    def _hint_path(self, key: str) -> Path | None:
        return self._entry_path("wrappers", FORMAT, key)

    def _entry_path(self, folder: str, stamp: str, key: str) -> Path | None:
        """Where the entry for key lives: named by a hash of the stamp and key, in folder."""
        if self.root is None:
            return None
        h = hashlib.sha256(f"{stamp}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / folder / f"{h}.json"

    # -- a command's whole output, for a checkout in a state seen before ------------------------

    def get_output(self, key: str) -> tuple[str, str] | None:
        """(stdout, stderr) of the run whose inputs key names (source.checkout.run_state); None
        for a miss."""
        doc = self._read_json(self._entry_path("outputs", package_stamp(), key), lambda doc: (
            isinstance(doc, dict) and doc.get("key") == key and isinstance(doc.get("stdout"), str)
            and isinstance(doc.get("stderr"), str)
            and not _UNPRINTABLE.search(doc["stdout"]) and not _UNPRINTABLE.search(doc["stderr"])),
            "not the output of that run")
        return None if doc is None else (doc["stdout"], doc["stderr"])

    def put_output(self, key: str, stdout: str, stderr: str) -> None:
        self._write_json(self._entry_path("outputs", package_stamp(), key),
                         {"key": key, "stdout": stdout, "stderr": stderr})

    # -- what a tree's Kconfig says options need (pvscan.kconfig) ----------------------------

    def get_kconfig(self, key: str):
        """({option: [options it needs]}, {option: [options it excludes]}, {file: sha256 of
        what was read}, {int option: [[value, guard], ...]}) for that Kconfig, or None."""
        def valid(doc):
            files = doc.get("files") if isinstance(doc, dict) else None
            defaults = doc.get("defaults") if isinstance(doc, dict) else None
            return (isinstance(doc, dict) and doc.get("kconfig") == key
                    and all(_option_map(doc.get(k)) for k in ("needs", "excludes"))
                    and isinstance(files, dict) and all(
                        _tree_path(f) and isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h)
                        for f, h in files.items())
                    and isinstance(defaults, dict) and all(
                        isinstance(k, str) and isinstance(rows, list) and all(
                            isinstance(r, list) and len(r) == 2 and type(r[0]) is int and isinstance(r[1], str)
                            for r in rows)
                        for k, rows in defaults.items()))
        doc = self._read_json(self._kconfig_path(key), valid, "not the options of that Kconfig")
        if doc is None or not (isinstance(doc.get("notes", []), list)
                               and all(isinstance(n, str) for n in doc.get("notes", []))
                               and _option_map(doc.get("selects", {}))):
            return None
        return (doc["needs"], doc["excludes"], doc["files"], doc["defaults"], tuple(doc.get("notes", ())),
                doc.get("selects", {}))

    def put_kconfig(self, key: str, needs: dict, excludes: dict, files: dict, defaults: dict,
                    notes: tuple = (), selects: dict | None = None) -> None:
        self._write_json(self._kconfig_path(key), {
            "kconfig": key, "needs": {k: sorted(v) for k, v in sorted(needs.items())},
            "excludes": {k: sorted(v) for k, v in sorted(excludes.items())},
            "files": dict(sorted(files.items())),
            "defaults": {k: [list(row) for row in v] for k, v in sorted(defaults.items())},
            "notes": list(notes), "selects": {k: sorted(v) for k, v in sorted((selects or {}).items())}})

    def _kconfig_path(self, key: str) -> Path | None:
        return self._entry_path("kconfig", FORMAT, key)

    # -- reading an entry -----------------------------------------------------------

    def _read(self, path: Path) -> bytes | None:
        """An entry's bytes; None for a miss. Only a regular file, never followed through a
        symlink, never waited on (a FIFO), never read past MAX_ENTRY_BYTES."""
        if self.root is None or not os.path.lexists(path):
            return None
        try:
            data = read_regular(path, MAX_ENTRY_BYTES, follow=False)
        except SkippedFile as e:
            return self._bad(path, f"cannot be used: {e}")
        try:
            os.utime(path, follow_symlinks=False)   # used now: the last to go when pruning
        except OSError:
            pass                                    # a cache shared read-only
        return data

    def _read_json(self, path: Path | None, valid, why: str):
        """A JSON entry that valid() accepts; None for a miss (why is said once for a bad one)."""
        raw = self._read(path) if path is not None else None
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            return self._bad(path, "not JSON")
        return doc if valid(doc) else self._bad(path, why)

    def _write_json(self, path: Path | None, doc) -> None:
        if path is not None:
            _atomic_write(path, json.dumps(doc, ensure_ascii=True).encode("ascii"))

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


# What a kept output may not hold, as it goes to a terminal unread: control characters but
# newline and tab, and escape sequences but colours (SGR), which pvscan's colour writes.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]|\x1b(?!\[[0-9;]*m)")

# Kconfig options without CONFIG_ (104_QUAD_8 too), joined by newlines.
_OPTIONS = re.compile(r"(?:[A-Za-z0-9_]+(?:\n[A-Za-z0-9_]+)*)?")


def _option_map(value) -> bool:
    """{option: [options]}: 18,000 options for 6.12's x86 Kconfig, checked in one pass of a
    regular expression over the names joined by newlines (none may hold one)."""
    if not isinstance(value, dict):
        return False
    names = list(value)
    for v in value.values():
        if type(v) is not list:
            return False
        names += v
    return (all(type(n) is str and n and "\n" not in n for n in names)
            and _OPTIONS.fullmatch("\n".join(names)) is not None)


def _checkout_state(doc, root: str) -> bool:
    def paths(x):
        return isinstance(x, list) and all(_tree_path(p) for p in x)

    return (isinstance(doc, dict) and doc.get("tree") == root
            and isinstance(doc.get("tree_id"), str) and re.fullmatch(r"[0-9a-f]{40,64}", doc["tree_id"]) is not None
            and paths(doc.get("dirty")) and paths(doc.get("candidates"))
            and isinstance(doc.get("wrappers"), list) and all(isinstance(n, str) and _IDENT.fullmatch(n)
                                                              for n in doc["wrappers"])
            and isinstance(doc.get("calls"), dict) and all(
                _tree_path(p) and isinstance(lines, list) and all(
                    isinstance(x, list) and len(x) == 2 and isinstance(x[0], int) and not isinstance(x[0], bool)
                    and isinstance(x[1], str) for x in lines)
                for p, lines in doc["calls"].items())
            and isinstance(doc.get("skipped"), dict) and all(
                _tree_path(p) and isinstance(m, str) for p, m in doc["skipped"].items()))


def _tree_path(rel) -> bool:
    """A relative path inside a tree: what a candidate list may hold."""
    return (isinstance(rel, str) and rel != "" and not rel.startswith("/") and "\0" not in rel
            and ".." not in rel.split("/"))


def _tree_paths(paths) -> bool:
    """_tree_path() of each of many paths ('.', the top, too): the paths joined by NUL searched
    for what only a bad one holds (an empty or absolute path, a '..' part), which is many times
    quicker than splitting thousands of paths."""
    rest = [p for p in paths if p != "."]
    if not all(type(p) is str and p and "\0" not in p for p in rest):
        return False
    joined = "\0" + "\0".join(rest) + "\0"
    if "\0/" in joined:
        return False
    return ".." not in joined or all(_tree_path(p) for p in rest)


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile     # only to write: a run that finds all it needs writes nothing

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
