"""The revisions as independent tasks: each one scanned start to end, in-process, on local cores or on Dask.

Every revision is an independent task (scan_revision): it reads only the
candidate files of its tree (a directory, or a git revision read from the
object store), with per-file facts from the content-hash cache, so N
revisions cost roughly the files that changed. Tasks run in-process, on
local cores, or on a Dask distributed cluster; their results are plain
frozen data, so the three give the same output.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pvscan.naming import arch_of
from pvscan.run import Run

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pvscan.abi import Abi
    from pvscan.inventory.model import Inventory, Op
    from pvscan.source import Source
    from pvscan.source.directory import KernelTree
    from pvscan.source.files import KernelVersion
    from pvscan.source.git import GitTree


@dataclass(frozen=True)
class RevisionSpec:
    """One revision to scan: a git revision or a directory tree."""

    label: str
    kind: str                  # "git" | "tree"
    location: str              # repository or tree path
    rev: str | None
    abis: tuple[str, ...] = ()
    backend_rules: tuple = ()
    candidates: tuple | None = None    # the candidate list, when prime_candidates knew it


@dataclass(frozen=True)
class OpState:
    """An op as one revision has it."""

    arch: str
    name: str
    table: str
    group: str
    signature: str | None
    convention: str
    guard: str | None
    file: str
    line: int
    backends: tuple[str, ...]          # backends that implement it
    # A generic op (7.x's pv_steal_clock): each architecture's backends, from its own files and
    # the generic ones; history follows it per architecture.
    arch_backends: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def as_arch(self, arch: str) -> OpState:
        """This state as the kernel of one architecture has it: with no file of its own in the
        tree, what the generic files give it (the entry '')."""
        found = dict(self.arch_backends)
        backends = found.get(arch, found.get(""))
        return self if backends is None else dataclasses.replace(self, backends=backends)


@dataclass(frozen=True)
class RevisionSummary:
    """What the scan and check of one revision leave for the history."""

    label: str
    commit: str | None
    version: str
    ops: tuple[OpState, ...] = ()
    findings: tuple[tuple[str, str, str, str, str, str], ...] = ()   # (abi, code, arch, op, severity, message)
    # (abi, arch, op, coverage kind): mapped, native, unmapped ...
    kinds: tuple[tuple[str, str, str, str], ...] = ()
    witnesses: tuple[tuple[str, str], ...] = ()   # (abi, backend): ABIs whose own backend this revision holds
    definitions: tuple[tuple[str, str, str], ...] = ()    # (arch, table, .c file that defines it)
    files: int = 0
    cache_hits: int = 0
    warning: str | None = None
    kconfig_problems: tuple = ()       # why its Kconfig could not complete an ABI's configuration
    config_notes: tuple = ()           # what completed each ABI's configuration here, and from where
    blind: tuple = ()                  # what its scan could not place, one line each
    # Each ABI's shared areas as this revision's headers lay them out, the fields the ABI names:
    # (abi, area, ((field, offset or None, size or None), ...)); an area the revision lacks, none.
    areas: tuple = ()


def scan_revision(spec: RevisionSpec, run: Run | None = None) -> RevisionSummary:
    """One revision, start to end: safe to run on any worker that can read spec.location. run:
    the run it belongs to, when it runs in that run's process; on a worker it is a run of its own."""
    run = run or Run()
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    from pvscan.checks.target import complete_config
    from pvscan.errors import PvscanError
    from pvscan.inventory.backends import DEFAULT_MAP, BackendMap
    from pvscan.inventory.model import signature_of
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.pipeline import inventory_of

    try:
        source = open_revision(spec, run)
    except PvscanError as e:
        return RevisionSummary(spec.label, None, "?", warning=str(e))
    commit = source.commit
    kconfig = LazyGuardLogic(source)
    try:
        # One task per revision already: no pool inside it.
        result = inventory_of(source, BackendMap(tuple(spec.backend_rules) + DEFAULT_MAP), jobs=1)
        inventory = result.inventory
        if not inventory.ops:
            return RevisionSummary(spec.label, commit, str(source.version), files=result.files_parsed,
                                   cache_hits=result.cache_hits, warning="no paravirt ops table in this revision")
        # Each ABI's configuration completed from this revision's Kconfig and headers, as check
        # completes it: an op the revision's Kconfig rules out is excluded here as there.
        abis, config_notes = [], []
        for name in spec.abis:
            abi, notes = complete_config(source, inventory.ops, load_abi(name, run), kconfig)
            abis.append(abi)
            config_notes.extend(notes)
        areas = _area_layouts(source, abis, source.version)
    finally:
        kconfig.close()
        source.close()
    ops = tuple(OpState(o.arch, o.name, o.table, o.group, signature_of(o), o.convention, o.guard, o.file,
                        o.line, o.backends, _arch_backends(o, inventory)) for o in inventory.ops)
    found: tuple[tuple[str, str, str, str, str, str], ...] = ()
    kinds: tuple[tuple[str, str, str, str], ...] = ()
    witnesses: tuple[tuple[str, str], ...] = ()
    if abis:
        checked = check(inventory, abis, version=source.version)
        arch_of = {o.name: o.arch for o in inventory.ops}
        found = tuple((f.abi, f.code, arch_of.get(f.op, ""), f.op, f.severity, f.message)
                      for f in checked.findings)
        kinds = tuple(sorted((abi, arch, op, kind) for (abi, arch, op), kind in checked.op_kinds.items()))
        present = {b for (_arch, b) in inventory.backends}
        witnesses = tuple(sorted((a.name, a.backend) for a in abis if a.backend is not None and a.backend in present))
    definitions = tuple(sorted((t.arch, t.name, t.definition) for t in inventory.tables if t.definition))
    return RevisionSummary(spec.label, commit, str(source.version), ops, found, kinds, witnesses, definitions,
                           result.files_parsed, result.cache_hits, kconfig_problems=tuple(kconfig.problems),
                           config_notes=tuple(config_notes), blind=tuple(str(w) for w in inventory.blind),
                           areas=areas)


def _area_layouts(source: Source, abis: Sequence[Abi], version: KernelVersion) -> tuple:
    """(abi, area, ((field, offset, size), ...)) of each ABI area the revision's kernel has."""
    from pvscan.checks.areas import laid_out, version_number

    out = []
    for abi, area, layout, _problems, fields in laid_out(source, abis, version_number(version)):
        if layout is not None:
            found = [(f.name, layout.field(f.name)) for f in fields]
            out.append((abi.name, area.name, tuple((name, got.offset if got else None, got.size if got else None)
                                                   for name, got in found)))
    return tuple(out)


def _arch_backends(op: Op, inventory: Inventory) -> tuple:
    """((arch, backends), ...) of a generic op, for each architecture the tree has."""
    if op.arch != "generic":
        return ()
    from pvscan.identity import for_arch

    arches = sorted({t.arch for t in inventory.tables} | {o.arch for o in inventory.ops} | {
        arch_of(i.file) for i in op.implementations} - {"generic"})
    generic_only = tuple(sorted({i.backend for i in op.implementations if arch_of(i.file) == "generic"}))
    return (("", generic_only),) + tuple((a, for_arch(op, a, inventory.homes).backends) for a in arches)


def open_revision(spec: RevisionSpec, run: Run) -> KernelTree | GitTree:
    """The source of one revision, read for run: a git revision's objects, or a directory."""
    if spec.kind == "git":
        from pvscan.source.git import GitTree

        assert spec.rev is not None     # a git revision always names one
        tree = GitTree(spec.location, spec.rev, run)
        if spec.candidates is not None:
            tree.use_candidates(spec.candidates)
        return tree
    from pvscan.source.directory import KernelTree

    return KernelTree(spec.location, run)


# -- consecutive revisions: what changed between them ---------------------------------------

def prime_candidates(specs: list[RevisionSpec], run: Run | None = None,
                     say: Callable | None = None) -> list[RevisionSpec]:
    """specs with the candidate list of each git revision filled in, when they are revisions of
    one repository: the first from the cache or one git grep, each later one from the one
    before, git diff-tree and a search of only the files that changed. Otherwise (or when git
    cannot say what changed) specs as given, for the workers to search each revision.
    say(text) hears of each search as it begins: each takes seconds on a kernel."""
    from pvscan.cache import Cache
    from pvscan.errors import PvscanError
    from pvscan.source.git import CANDIDATES, GitTree

    run = run or Run()
    git = [i for i, s in enumerate(specs) if s.kind == "git"]
    if len(git) < 2 or len({specs[i].location for i in git}) != 1:
        return list(specs)
    trees = []
    try:
        for i in git:
            rev = specs[i].rev
            assert rev is not None      # a git revision always names one
            trees.append(GitTree(specs[i].location, rev, run))
        known = [Cache.for_source(t).get(CANDIDATES, t.cache_key) for t in trees]
        lists = _searched(trees, known, [specs[i].label for i in git], len(specs), say) \
            if any(k is None for k in known) else known
        if lists is None:
            return list(specs)
    except PvscanError:
        return list(specs)          # a bad revision: its worker says so
    finally:
        for tree in trees:
            tree.close()
    out = list(specs)
    for i, found in zip(git, lists):
        out[i] = dataclasses.replace(specs[i], candidates=tuple(found))
    return out


def _searched(trees, known: list, labels: list, total: int, say) -> list | None:
    """known with each list it lacks searched: the first revision's whole, each later one's
    from the one before and the files that changed; None when git cannot say what changed."""
    steps = [b.changed_sources(a.commit) for a, b in zip(trees, trees[1:])]
    if any(step is None for step in steps):
        return None
    if known[0] is None:
        if say:
            say(f"searching {labels[0]} (revision 1/{total})")
        known[0] = trees[0].candidates([])
    for n, (tree, step) in enumerate(zip(trees[1:], steps), 1):
        if known[n] is None:
            if say:
                say(f"searching the {len(step):,} files changed from {labels[n - 1]} to {labels[n]} "
                    f"(revision {n + 1}/{total})")
            known[n] = tree.candidates_since(trees[n - 1].commit, known[n - 1], step)
    return known


# -- running the tasks --------------------------------------------------------------

def run_revisions(specs: list[RevisionSpec], run: Run, scheduler: str | None = None, jobs: int | None = None,
                  progress: Callable | None = None, say: Callable | None = None) -> list[RevisionSummary]:
    """Summaries in the order of specs: on a Dask cluster, local cores, or in-process (as part
    of run). progress(summary) hears of each revision done, say(text) of each search begun."""
    specs = prime_candidates(specs, run, say)
    if scheduler:
        return _run_dask(specs, scheduler, progress)
    from pvscan.pipeline import pool_failure, quiet_worker, stop_pool, workers

    jobs = workers(jobs, len(specs))
    if jobs == 1:
        out: list[RevisionSummary] = []
        for s in specs:
            out.append(scan_revision(s, run))
            if progress:
                progress(out[-1])
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=quiet_worker)
    stopped = False
    try:
        futures = {pool.submit(scan_revision, s): i for i, s in enumerate(specs)}
        done: dict[int, RevisionSummary] = {}
        for fut in as_completed(futures):
            done[futures[fut]] = fut.result()
            if progress:
                progress(done[futures[fut]])
    except BrokenProcessPool:
        raise pool_failure() from None
    except KeyboardInterrupt:
        stop_pool(pool)          # Ctrl-C: the workers leave it to us; the run ends here with 130
        stopped = True
        raise
    finally:
        if not stopped:
            pool.shutdown(cancel_futures=True)
    return [done[i] for i in range(len(specs))]


_SCHEDULER = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$")
CONNECT_SECONDS = 20


def connect(address: str):
    """A Dask client of the scheduler at address, or one clear error within CONNECT_SECONDS.

    distributed's own timeout does not cover a peer that accepts the
    connection and never answers the handshake: the client is made in a
    daemon thread, and a thread still waiting is left behind.
    """
    from pvscan.errors import PvscanError

    if not _SCHEDULER.match(address):
        raise PvscanError("not a scheduler address: expected tcp://HOST:PORT (or tls://, ws://, HOST:PORT)",
                          address)
    from pvscan.errors import needs_extra

    needs_extra("distributed", "--scheduler", "cluster")
    from distributed import Client

    box: dict[str, Any] = {}     # 'client' or 'error', from the thread that connects

    def make() -> None:
        try:
            box["client"] = Client(address, timeout=f"{CONNECT_SECONDS // 2}s")
        except Exception as e:  # noqa: BLE001 - any failure to connect is the user's to see, in one line
            box["error"] = e

    thread = threading.Thread(target=make, daemon=True, name="pvscan-dask-connect")
    thread.start()
    thread.join(CONNECT_SECONDS)
    if thread.is_alive():
        raise PvscanError(f"the Dask scheduler did not answer within {CONNECT_SECONDS} s", address)
    if "error" in box:
        detail = " ".join(f"{type(box['error']).__name__}: {box['error']}".split())
        raise PvscanError(f"cannot reach the Dask scheduler: {detail}", address)
    return box["client"]


def _run_dask(specs, address, progress):
    client = connect(address)
    from distributed import as_completed

    try:
        futures = client.map(scan_revision, specs, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out = [None] * len(specs)
        for fut in as_completed(futures):
            out[index[fut.key]] = fut.result()
            if progress:
                progress(out[index[fut.key]])
        return out
    finally:
        client.close()
