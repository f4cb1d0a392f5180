"""The one way from a tree to an inventory: source -> candidates -> facts -> inventory.

Every command goes through inventory_of(), whatever holds the files (a
directory, a git revision, either with patches applied in memory), with
the same caching: per-file facts by content hash (and a commit's candidate
list, which its source keeps). Files are read in this
process; only the parse of files the cache does not hold goes to worker
processes. The callers pass (count_callers) searches a directory tree
once more for every wrapper's callers; only scan asks for it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from pvscan.cache import IDENT, BadEntry, Cache, Store, code_stamp, format_stamp, json_store
from pvscan.errors import PvscanError, Warning_
from pvscan.inventory.backends import BackendMap, backend_homes, build_backend_map
from pvscan.inventory.build import build_inventory
from pvscan.inventory.model import Inventory
from pvscan.progress import NONE, Progress
from pvscan.run import Run
from pvscan.source.directory import KernelTree
from pvscan.source.files import KernelVersion, readable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import ProcessPoolExecutor
    from typing import Any

    from pvscan.facts.model import Call, FileFacts
    from pvscan.source import Source


# -- what the pipeline keeps in the cache ---------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")

# A file's facts and what parsing it warned of: what the FACTS store keeps per file.
Parsed = tuple["FileFacts", "Sequence[Warning_]"]


def _encode_facts(key: tuple[str, bytes], value: Parsed) -> bytes:
    from pvscan.facts.codec import encode

    return encode(value)


def _decode_facts(key: tuple[str, bytes], raw: bytes) -> Parsed:
    from pvscan.facts.codec import DecodeError, decode
    from pvscan.facts.model import FileFacts

    rel, _data = key
    try:
        facts, warnings = decode(raw, tuple[FileFacts, tuple[Warning_, ...]])
    except DecodeError as e:
        raise BadEntry(str(e)) from None
    if facts.path != rel:
        raise BadEntry(f"holds the facts of {facts.path!r}")
    return facts, warnings


# A file's (FileFacts, warnings), by its path and bytes and the code that makes facts.
FACTS: Store[tuple[str, bytes], Parsed] = Store(
    "facts", code_stamp, lambda key: os.fsencode(key[0]) + b"\0" + key[1], _encode_facts, _decode_facts,
    sharded=True, remember=True)


@dataclass(frozen=True)
class CallsKey:
    """A file's bytes, the wrapper names searched for (joined once for all the files of a
    search: with 20,000 files and thousands of names, the join was most of a scan's time) and
    the lines that matched."""

    rel: str
    data: bytes
    names: frozenset
    joined: bytes
    rows: tuple


def _decode_calls(key: CallsKey, raw: bytes) -> list[Call]:
    from pvscan.facts.codec import DecodeError, decode
    from pvscan.facts.model import Call

    try:
        calls = decode(raw, tuple[Call, ...])
    except DecodeError as e:
        raise BadEntry(str(e)) from None
    if any(c.path != key.rel or c.callee not in key.names for c in calls):
        raise BadEntry("holds calls of another file or wrapper")
    return list(calls)


def _encode_calls(key: CallsKey, calls: list[Call]) -> bytes:
    from pvscan.facts.codec import encode

    return encode(tuple(calls))


# The calls of the wrappers in one file.
CALLS: Store[CallsKey, list[Call]] = Store(
    "calls", code_stamp, lambda k: os.fsencode(k.rel) + b"\0" + k.joined + b"\0" + repr(k.rows).encode() + b"\0"
    + k.data, _encode_calls, _decode_calls, sharded=True)

# The wrapper names the last scan of a tree found, for the next scan's single search. Only a
# hint: a name missing here is searched for afterwards, a name too many costs a little time.
WRAPPERS: Store[str, frozenset] = json_store(
    "wrappers", format_stamp, lambda tree: tree,
    lambda tree, names: {"tree": tree, "wrappers": sorted(names)},
    lambda tree, doc: (isinstance(doc, dict) and doc.get("tree") == tree and isinstance(doc.get("wrappers"), list)
                       and len(doc["wrappers"]) <= 100_000
                       and all(isinstance(n, str) and IDENT.fullmatch(n) for n in doc["wrappers"])),
    lambda doc: frozenset(doc["wrappers"]), "not a list of wrapper names of that tree")

# Below this many files a worker pool costs more than it saves.
_POOL_THRESHOLD = 24


@dataclass(frozen=True)
class ScanResult:
    """An inventory with what the scan that made it saw on the way."""

    tree: str                        # as the user named it
    version: KernelVersion
    inventory: Inventory
    callers: dict = field(default_factory=dict)   # (arch, wrapper) -> tuple[Call]
    files_parsed: int = 0
    warnings: tuple[Warning_, ...] = ()           # everything the run survived, sorted
    read_warnings: tuple[Warning_, ...] = ()      # of those, what reading the files said
    cache_hits: int = 0


def open_tree(path: str | os.PathLike[str] | Source, run: Run | None = None) -> Source:
    """A kernel tree in a directory (the tree it is inside, for a directory inside one), read
    for run; a source already opened (a git revision, a patched tree) passes through."""
    return KernelTree(path, run) if isinstance(path, (str, os.PathLike)) else path


def inventory_of(source: Source, backend_map: BackendMap | None = None, jobs: int | None = None,
                 progress: Progress = NONE, parsed: dict | None = None) -> ScanResult:
    """The inventory of a source (pvscan.source.Source), with every warning on the way.
    parsed: {path: (bytes, (FileFacts, warnings))} this run already has."""
    backend_map = backend_map or build_backend_map()
    read_warnings: list[Warning_] = []
    progress.show("searching the tree")
    candidates = source.candidates(read_warnings)
    facts, hits = _facts(source, candidates, read_warnings, jobs, progress, parsed)
    homes = backend_homes(backend_map, source.arch_subdirs() if hasattr(source, "arch_subdirs") else {})
    inventory = build_inventory(facts, backend_map, homes)
    warnings = tuple(sorted(set(read_warnings) | set(inventory.warnings)))
    return ScanResult(source.display, source.version, dataclasses.replace(inventory, warnings=()), {},
                      len(facts), warnings, tuple(read_warnings), hits)


def scan(path: str | os.PathLike[str] | Source, backend_map: BackendMap | None = None, jobs: int | None = None,
         callers: bool = True, progress: Progress = NONE) -> ScanResult:
    """A tree's inventory, which must hold a table, and (callers=True) its wrappers' callers,
    which are counted in a directory tree (a git revision's are not: they stay None)."""
    tree = open_tree(path)
    counted = tree if callers and isinstance(tree, KernelTree) else None     # the tree whose callers count
    backend_map = backend_map or build_backend_map()
    parsed: dict = {}
    if counted is not None:
        # The wrappers' callers are found by the same search as the tables, so that a scan
        # searches the tree once: the names come from the last scan of this tree, or from
        # the headers that define them, which a small search finds first.
        cache = Cache.for_source(counted)
        counted.remembered_wrappers = cache.get(WRAPPERS, str(counted.root)) or frozenset()
        cache.tell()
        counted.wrapper_hint = counted.remembered_wrappers or _likely_wrappers(counted, backend_map, parsed, jobs)
    result = require_tables(inventory_of(tree, backend_map, jobs, progress, parsed))
    return count_callers(counted, result, jobs, progress) if counted is not None else result


def _likely_wrappers(tree: KernelTree, backend_map: BackendMap, parsed: dict, jobs: int | None) -> frozenset[str]:
    """The wrapper names the headers of include/ and arch/*/include/ define: a guess made
    before the whole-tree search, so that it finds their callers too.

    Every generation defines (nearly) all its wrappers in the paravirt headers (6.1 and 6.12:
    all, in asm/paravirt.h; 2.6.22: 90 of 94, 2.6.32: 128 of 130, the others in .c files
    such as alternative.c), so the guess is the inventory of those headers alone, plus the
    macros around their asm references, whose ops only a .c file (asm-offsets) resolves.
    A name it misses is searched for afterwards, one too many costs a little time: a
    guess never changes what the scan finds. Its facts are kept in parsed, for the
    whole-tree pass not to parse the headers again.
    """
    from pvscan.source.search import find_table_candidates, header_dirs

    ignored: list = []       # the whole-tree search says the same of these files
    headers = find_table_candidates(tree, ignored, only_dirs=header_dirs(tree))
    facts, _ = _facts(tree, headers, ignored, jobs, parsed=parsed)
    names = {w.name for op in build_inventory(facts, backend_map).ops for w in op.wrappers}
    names |= {r.function for f in facts for r in f.symbol_refs if r.function and r.function_kind != "file"}
    return frozenset(names)


def require_tables(result: ScanResult) -> ScanResult:
    if not result.inventory.tables:
        raise PvscanError("no paravirt ops table found (is this a kernel with CONFIG_PARAVIRT code, "
                          "2.6.20 or later?)", result.tree)
    return result


def _facts(source: Source, candidates: list[str], warnings: list[Warning_], jobs: int | None, progress: Progress = NONE,
           parsed: dict | None = None) -> tuple[list[FileFacts], int]:
    """FileFacts of each readable candidate, and how many came from the cache (or from parsed,
    {path: (bytes, (FileFacts, warnings))}, which gets what is parsed here)."""
    cache = Cache.for_source(source)
    parsed = {} if parsed is None else parsed
    out, misses, hits = {}, [], 0
    for rel, data in readable(source, candidates, warnings):
        cached = parsed[rel][1] if rel in parsed and parsed[rel][0] == data else cache.get(FACTS, (rel, data))
        if cached is not None:
            out[rel] = cached
            hits += 1
        else:
            misses.append((rel, data))
    for (rel, data), result in zip(misses, _map(_parse_item, misses, jobs, progress, "parsing")):
        cache.put(FACTS, (rel, data), result)
        parsed[rel] = (data, result)
        out[rel] = result
    facts = []
    for rel in candidates:
        if rel in out:
            facts.append(out[rel][0])
            warnings.extend(out[rel][1])
    cache.tell()
    return facts, hits


def _parse_item(item: tuple[str, bytes]) -> Parsed:
    return _parse(*item)


def _parse(rel: str, data: bytes) -> tuple[FileFacts, list[Any]]:
    from pvscan.facts.parse import parse_file

    extra = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        extra.append(Warning_(rel, line, "not UTF-8; parsed as bytes"))
    return parse_file(rel, data), extra


# -- the callers pass --------------------------------------------------------------

def count_callers(tree: KernelTree, result: ScanResult, jobs: int | None, progress: Progress = NONE) -> ScanResult:
    """The result with every wrapper's callers counted (a scan of the tree found most in its one search)."""
    from pvscan.inventory.callers import attribute_calls
    from pvscan.naming import arch_of
    from pvscan.source.search import dirs_for_arches

    inventory = result.inventory
    wrappers_by_arch: dict[str, set[str]] = {}
    defined_in: dict = {}
    for op in inventory.ops:
        for w in op.wrappers:
            wrappers_by_arch.setdefault(op.arch, set()).add(w.name)
            defined_in.setdefault((op.arch, w.name), set()).add(w.file)
    names = frozenset(n for ns in wrappers_by_arch.values() for n in ns)
    if not names:
        return result
    warnings = list(result.warnings)
    arches = set(wrappers_by_arch)
    matches = _calls_of(tree, names, dirs_for_arches(tree, arches), warnings)
    files = [rel for rel in matches if arch_of(rel) in arches or arch_of(rel) == "generic"]
    calls = _calls_in(tree, files, names, matches, warnings, jobs, progress)
    by_wrapper = attribute_calls(calls, wrappers_by_arch, defined_in)
    by_wrapper = {k: tuple(sorted(set(v), key=lambda c: (c.path, c.line, c.callee))) for k, v in by_wrapper.items()}
    ops = []
    for op in inventory.ops:
        ws = tuple(dataclasses.replace(w, callers=len(by_wrapper.get((op.arch, w.name), ())))
                   for w in op.wrappers)
        ops.append(dataclasses.replace(op, wrappers=ws))
    return dataclasses.replace(result, inventory=dataclasses.replace(inventory, ops=tuple(ops)),
                               callers=dict(sorted(by_wrapper.items())),
                               files_parsed=result.files_parsed + len(files),
                               warnings=tuple(sorted(set(warnings))))


def _calls_of(tree: KernelTree, names: frozenset, dirs: list[str], warnings: list[Warning_]) -> dict:
    """{path: lines} calling one of names, in dirs: from the tree's first search for the names it
    looked for (tree.searched_wrappers), from a second search for the others; remembered next."""
    import re

    from pvscan.source.search import calls_pattern, search_lines

    exact = re.compile(calls_pattern(names).encode())
    inside = tuple(d.rstrip("/") + "/" for d in dirs)
    found: dict[str, set[int]] = {}
    for rel, lines in tree.calls_found.items():
        rows = {row for row, text in lines if exact.search(text)}
        if rows and rel.startswith(inside):
            found[rel] = rows
    missing = names - tree.searched_wrappers
    if missing:
        for rel, more in search_lines(tree, calls_pattern(missing), warnings, only_dirs=dirs).items():
            found.setdefault(rel, set()).update(more)
    if names != tree.remembered_wrappers:
        Cache.for_source(tree).put(WRAPPERS, str(tree.root), names)
    return {rel: tuple(sorted(rows)) for rel, rows in sorted(found.items())}


def _calls_in(tree: Source, files: list[str], names: frozenset, matches: dict[str, tuple[int, ...]],
              warnings: list[Warning_], jobs: int | None, progress: Progress) -> list:
    """The calls of the wrappers in these files: from the cache when it holds this file's bytes with
    these names and lines, else parsed (on workers when there are many)."""
    cache = Cache.for_source(tree)
    calls, misses, keys = [], [], []
    joined = " ".join(sorted(names)).encode()
    for rel, data in readable(tree, files, warnings):
        key = CallsKey(rel, data, names, joined, tuple(matches[rel]))
        cached = cache.get(CALLS, key)
        if cached is None:
            misses.append((rel, data, names, matches[rel]))
            keys.append(key)
        else:
            calls.extend(cached)
    for key, found in zip(keys, _map(_calls_one, misses, jobs, progress, "reading the wrappers' callers in")):
        cache.put(CALLS, key, found)
        calls.extend(found)
    cache.tell()
    return calls


def _calls_one(item: tuple[str, bytes, frozenset[str], Any]) -> list[Call]:
    from pvscan.facts.calls import calls_in_file

    return calls_in_file(*item)


def workers(jobs: int | None, work: int) -> int:
    """Worker processes for this much work: as asked (default: the cores), never more than
    the cores or the work. -j 256 on two cores and 28 files forks two."""
    cores = os.cpu_count() or 1
    return max(1, min(jobs or cores, cores, work))


def _map(fn: Callable[[T], R], items: Sequence[T], jobs: int | None, progress: Progress = NONE,
         doing: str = "") -> list[R]:
    """fn over items, in order: here, or on worker processes when there is enough work."""
    jobs = workers(jobs, len(items))
    out = []
    if jobs <= 1 or len(items) < _POOL_THRESHOLD:
        for i, item in enumerate(items, 1):
            out.append(fn(item))
            progress.show(f"{doing} {i}/{len(items)} files")
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork")
    chunk = max(1, len(items) // (jobs * 4))
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=quiet_worker)
    stopped = False
    try:
        for i, result in enumerate(pool.map(fn, items, chunksize=chunk), 1):
            out.append(result)
            progress.show(f"{doing} {i}/{len(items)} files")
    except BrokenProcessPool:
        raise pool_failure() from None
    except KeyboardInterrupt:
        stop_pool(pool)
        stopped = True
        raise
    finally:
        if not stopped:        # done, or an error of a worker's: the pool ends before the run goes on
            pool.shutdown(cancel_futures=True)
    return out


def quiet_worker() -> None:
    """A worker leaves Ctrl-C to the parent, which stops the pool and ends the run (130): a
    worker that took it too would print a traceback of its own. A handler that does nothing,
    not SIG_IGN: what the worker runs (ripgrep, git) would inherit SIG_IGN and outlive the run."""
    import signal

    signal.signal(signal.SIGINT, _leave_to_the_parent)


def _leave_to_the_parent(signum: int, frame: object) -> None:
    return None


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a process pool now: its workers leave Ctrl-C alone (quiet_worker), so they are
    terminated rather than waited for."""
    for process in list(getattr(pool, "_processes", {}).values()):   # (no public way to reach them)
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def pool_failure() -> PvscanError:
    """A worker process died under us (the OOM killer, a signal): the run cannot go on."""
    return PvscanError("a worker process was killed (out of memory, or by a signal); "
                       "rerun with fewer workers (-j 1 uses none)")
