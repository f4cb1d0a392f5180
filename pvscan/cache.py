"""Caches outside the tree: per-file facts by content hash, and a commit's candidate list.

~/.cache/pvscan/ (XDG_CACHE_HOME, or PVSCAN_CACHE_DIR). A facts entry is
keyed by the file's path and bytes and by the source of the modules that
make facts, so a change to the parser never reads stale facts. Writes are
atomic; a cache that cannot be written is silently not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path


def cache_root() -> Path:
    explicit = os.environ.get("PVSCAN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pvscan"


@lru_cache(maxsize=1)
def _code_stamp() -> str:
    # Every module that makes facts or lists candidates: a change to any of
    # them must never read what an older version wrote.
    here = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted((here / "facts").glob("*.py")) + sorted((here / "source").glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _facts_path(rel: str, data: bytes) -> Path:
    h = hashlib.sha256(_code_stamp().encode() + b"\0" + rel.encode() + b"\0" + data).hexdigest()
    return cache_root() / "facts" / h[:2] / f"{h}.pickle"


def get_facts(rel: str, data: bytes):
    if os.environ.get("PVSCAN_NO_CACHE"):
        return None
    try:
        with open(_facts_path(rel, data), "rb") as f:
            return pickle.load(f)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError):
        return None


def put_facts(rel: str, data: bytes, facts) -> None:
    if os.environ.get("PVSCAN_NO_CACHE"):
        return
    _atomic_write(_facts_path(rel, data), pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))


def _candidates_path(key: str) -> Path:
    h = hashlib.sha256(f"{_code_stamp()}\0{key}".encode()).hexdigest()
    return cache_root() / "trees" / f"{h}.json"


def get_candidates(key: str) -> list[str] | None:
    """The candidate list of a source whose content key names it (a commit), if cached."""
    if os.environ.get("PVSCAN_NO_CACHE"):
        return None
    try:
        doc = json.loads(_candidates_path(key).read_text())
        return list(doc["candidates"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put_candidates(key: str, candidates: list[str]) -> None:
    if os.environ.get("PVSCAN_NO_CACHE"):
        return
    doc = {"source": key, "candidates": sorted(candidates)}
    _atomic_write(_candidates_path(key), json.dumps(doc).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass
