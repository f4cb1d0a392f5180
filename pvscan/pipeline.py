"""The scan pipeline: tree -> candidates -> facts (in parallel) -> inventory -> callers."""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pvscan.errors import PvscanError, Warning_
from pvscan.inventory.backends import BackendMap, build_backend_map
from pvscan.inventory.build import Inventory, build_inventory
from pvscan.naming import arch_of
from pvscan.source.directory import KernelTree, KernelVersion, SkippedFile
from pvscan.source.search import (
    calls_pattern,
    dirs_for_arches,
    find_table_candidates,
    search_lines,
)

# Below this many files a worker pool costs more than it saves.
_POOL_THRESHOLD = 24


@dataclass(frozen=True)
class ScanResult:
    tree: str                        # as the user named it
    version: KernelVersion
    inventory: Inventory
    callers: dict = field(default_factory=dict)   # (arch, wrapper) -> tuple[Call]
    files_parsed: int = 0
    warnings: tuple[Warning_, ...] = ()


def scan(path, backend_map: BackendMap | None = None, jobs: int | None = None,
         callers: bool = True) -> ScanResult:
    tree = KernelTree(path)
    backend_map = backend_map or build_backend_map()
    warnings: list[Warning_] = []
    candidates = find_table_candidates(tree, warnings)
    results = _map(_parse_one, [(str(tree.root), rel) for rel in candidates], jobs)
    facts = []
    for r in results:
        if isinstance(r, Warning_):
            warnings.append(r)
        else:
            facts.append(r[0])
            warnings.extend(r[1])
    inventory = build_inventory(facts, backend_map)
    if not inventory.tables:
        raise PvscanError("no paravirt ops table found (is this a kernel with CONFIG_PARAVIRT code, "
                          "2.6.20 or later?)", tree.display)
    parsed = len(facts)
    caller_map = {}
    if callers:
        inventory, caller_map, n = _callers(tree, inventory, warnings, jobs)
        parsed += n
    all_warnings = tuple(sorted(set(warnings) | set(inventory.warnings)))
    inventory = dataclasses.replace(inventory, warnings=())
    return ScanResult(tree.display, tree.version, inventory, caller_map, parsed, all_warnings)


def _read_in_worker(root: str, rel: str):
    """The file's bytes, or the warning that says why it was skipped."""
    try:
        return KernelTree.trusted(root).read(rel)
    except SkippedFile as e:
        return Warning_(rel, 0, f"skipped: {e}")


def _parse_one(args):
    root, rel = args
    data = _read_in_worker(root, rel)
    if isinstance(data, Warning_):
        return data
    return facts_of(rel, data)


def facts_of(rel: str, data: bytes):
    """(FileFacts, warnings) for one file's bytes, from the cache when it has them."""
    from pvscan.cache import get_facts, put_facts
    from pvscan.facts.parse import parse_file

    cached = get_facts(rel, data)
    if cached is not None:
        return cached
    extra = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        extra.append(Warning_(rel, line, "not UTF-8; parsed as bytes"))
    result = (parse_file(rel, data), extra)
    put_facts(rel, data, result)
    return result


def _calls_one(args):
    root, rel, names, rows = args
    from pvscan.facts.calls import calls_in_file

    data = _read_in_worker(root, rel)
    if isinstance(data, Warning_):
        return data
    return calls_in_file(rel, data, names, rows)


def _callers(tree, inventory: Inventory, warnings, jobs):
    from pvscan.inventory.callers import attribute_calls

    wrappers_by_arch: dict[str, set[str]] = {}
    defined_in: dict = {}
    for op in inventory.ops:
        for w in op.wrappers:
            wrappers_by_arch.setdefault(op.arch, set()).add(w.name)
            defined_in.setdefault((op.arch, w.name), set()).add(w.file)
    names = frozenset(n for ns in wrappers_by_arch.values() for n in ns)
    if not names:
        return inventory, {}, 0
    arches = set(wrappers_by_arch)
    matches = search_lines(tree, calls_pattern(names), warnings, only_dirs=dirs_for_arches(tree, arches))
    files = [rel for rel in matches if arch_of(rel) in arches or arch_of(rel) == "generic"]
    calls = []
    for r in _map(_calls_one, [(str(tree.root), rel, names, matches[rel]) for rel in files], jobs):
        if isinstance(r, Warning_):
            warnings.append(r)
        else:
            calls.extend(r)
    by_wrapper = attribute_calls(calls, wrappers_by_arch, defined_in)
    by_wrapper = {k: tuple(sorted(set(v), key=lambda c: (c.path, c.line, c.callee))) for k, v in by_wrapper.items()}
    ops = []
    for op in inventory.ops:
        ws = tuple(dataclasses.replace(w, callers=len(by_wrapper.get((op.arch, w.name), ())))
                   for w in op.wrappers)
        ops.append(dataclasses.replace(op, wrappers=ws))
    return dataclasses.replace(inventory, ops=tuple(ops)), dict(sorted(by_wrapper.items())), len(files)


def _map(fn, items, jobs):
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(items) < _POOL_THRESHOLD:
        return [fn(i) for i in items]
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    chunk = max(1, len(items) // (jobs * 4))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return list(pool.map(fn, items, chunksize=chunk))
