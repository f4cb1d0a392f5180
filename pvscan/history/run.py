"""Stage 6: the inventory across revisions, and what each ABI could not have expressed.

Every revision is an independent task (scan_revision): it reads only the
candidate files of its tree (a directory, or a git revision read from the
object store), with per-file facts from the content-hash cache, so N
revisions cost roughly the files that changed. Tasks run in-process, on
local cores, or on a Dask distributed cluster; their results are plain
frozen data, so the three give the same output.

Then, in order, ops keep one identity across revisions: the same name;
the other generation's name (pv_mmu_ops.set_pte <-> mmu.set_pte); a member
of the same name and signature found in another table (paravirt_ops.x ->
pv_cpu_ops.x); or the documented RENAMES table. What matches none of these
is a removal plus an addition: nothing is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Renames no rule above can see, each a fact of kernel history (docs/history.md).
RENAMES = {
    "load_esp0": "load_sp0",            # 2.6.25, i386 and x86_64 unified
    "alloc_pt": "alloc_pte",            # 2.6.25
    "alloc_pd": "alloc_pmd",            # 2.6.25
    "release_pt": "release_pte",        # 2.6.25
    "release_pd": "release_pmd",        # 2.6.25
    "flush_tlb_single": "flush_tlb_one_user",  # 4.16
}
# arch/i386 and arch/x86_64 became arch/x86 in 2.6.24.
ARCH_IDENTITY = {"i386": "x86", "x86_64": "x86"}
INTERFACE_KINDS = ("added", "removed", "signature", "convention", "guard")
NEEDS = {"PV001", "PV002", "PV003", "PV004"}


@dataclass(frozen=True)
class RevisionSpec:
    label: str
    kind: str                  # "git" | "tree"
    location: str              # repository or tree path
    rev: str | None
    abis: tuple[str, ...] = ()
    backend_rules: tuple = ()


@dataclass(frozen=True)
class OpState:
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


@dataclass(frozen=True)
class RevisionSummary:
    label: str
    commit: str | None
    version: str
    ops: tuple[OpState, ...] = ()
    findings: tuple = ()               # (abi, code, arch, op, severity, message)
    files: int = 0
    cache_hits: int = 0
    warning: str | None = None


def scan_revision(spec: RevisionSpec) -> RevisionSummary:
    """One revision, start to end: safe to run on any worker that can read spec.location."""
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    from pvscan.errors import PvscanError
    from pvscan.inventory.backends import DEFAULT_MAP, BackendMap
    from pvscan.inventory.model import signature_of
    from pvscan.pipeline import inventory_of

    try:
        source = open_revision(spec)
    except PvscanError as e:
        return RevisionSummary(spec.label, None, "?", warning=str(e))
    commit = source.commit
    try:
        # One task per revision already: no pool inside it.
        result = inventory_of(source, BackendMap(tuple(spec.backend_rules) + DEFAULT_MAP), jobs=1)
    finally:
        source.close()
    inventory = result.inventory
    if not inventory.ops:
        return RevisionSummary(spec.label, commit, str(source.version), files=result.files_parsed,
                               cache_hits=result.cache_hits, warning="no paravirt ops table in this revision")
    ops = tuple(OpState(o.arch, o.name, o.table, o.group, signature_of(o), o.convention, o.guard, o.file,
                        o.line, o.backends) for o in inventory.ops)
    found = ()
    if spec.abis:
        checked = check(inventory, [load_abi(a) for a in spec.abis])
        arch_of = {o.name: o.arch for o in inventory.ops}
        found = tuple((f.abi, f.code, arch_of.get(f.op, ""), f.op, f.severity, f.message)
                      for f in checked.findings)
    return RevisionSummary(spec.label, commit, str(source.version), ops, found, result.files_parsed,
                           result.cache_hits)


def open_revision(spec: RevisionSpec):
    """The source of one revision: a git revision's objects, or a directory."""
    if spec.kind == "git":
        from pvscan.source.git import GitTree

        return GitTree(spec.location, spec.rev)
    from pvscan.source.directory import KernelTree

    return KernelTree(spec.location)


# -- running the tasks --------------------------------------------------------------

def run_revisions(specs, scheduler: str | None = None, jobs: int | None = None, progress=None):
    """Summaries in the order of specs: on a Dask cluster, local cores, or in-process."""
    if scheduler:
        return _run_dask(specs, scheduler, progress)
    import os

    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(specs) == 1:
        out = []
        for s in specs:
            out.append(scan_revision(s))
            if progress:
                progress(out[-1])
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=min(jobs, len(specs)),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(scan_revision, s): i for i, s in enumerate(specs)}
        out = [None] * len(specs)
        for fut in as_completed(futures):
            out[futures[fut]] = fut.result()
            if progress:
                progress(out[futures[fut]])
    return out


def _run_dask(specs, address, progress):
    from distributed import Client, as_completed

    from pvscan.errors import PvscanError

    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise PvscanError(f"cannot reach the Dask scheduler: {e}", address) from None
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


# -- identity and changes -----------------------------------------------------------------

@dataclass
class Lineage:
    """One op across revisions."""

    identity: str                      # arch:name where it was first seen
    arch: str
    states: dict = field(default_factory=dict)   # revision index -> OpState
    matched: dict = field(default_factory=dict)  # revision index -> how it was matched to the one before


def _member(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def link(summaries) -> list[Lineage]:
    from pvscan.naming import generation_aliases

    lineages: list[Lineage] = []
    current: dict[tuple[str, str], Lineage] = {}
    for i, s in enumerate(summaries):
        if s.warning and not s.ops:
            continue
        unmatched_prev = dict(current)
        nxt = {}
        pending = []
        for op in s.ops:
            arch = ARCH_IDENTITY.get(op.arch, op.arch)
            key = (arch, op.name)
            lin, how = unmatched_prev.pop(key, None), "name"
            if lin is None:
                for alias in generation_aliases(op.name):
                    lin = unmatched_prev.pop((arch, alias), None)
                    if lin is not None:
                        how = "generation"
                        break
            if lin is None:
                pending.append(op)
                continue
            lin.states[i], lin.matched[i] = op, how
            nxt[key] = lin
        for op in pending:
            arch = ARCH_IDENTITY.get(op.arch, op.arch)
            same = [k for k, l in unmatched_prev.items() if k[0] == arch and _member(k[1]) == _member(op.name)
                    and _last(l).signature == op.signature]
            how = "member"
            if len(same) != 1:
                old = [m for m, new in RENAMES.items() if new == _member(op.name)]
                same = [k for k in unmatched_prev if k[0] == arch and _member(k[1]) in old]
                how = "table"
            if len(same) == 1:
                lin = unmatched_prev.pop(same[0])
                lin.states[i], lin.matched[i] = op, how
            else:
                lin = Lineage(f"{arch}:{op.name}", arch)
                lin.states[i] = op
                lineages.append(lin)
            nxt[(arch, op.name)] = lin
        current = nxt
    return lineages


def _last(lin: Lineage) -> OpState:
    return lin.states[max(lin.states)]


@dataclass(frozen=True)
class Event:
    revision: int
    kind: str          # added | removed | renamed | signature | convention | guard | backends
    detail: str
    file: str
    line: int


def events(lineage: Lineage, summaries) -> list[Event]:
    out = []
    indices = [i for i, s in enumerate(summaries) if s.ops]
    prev = None
    for i in indices:
        st = lineage.states.get(i)
        if st is None:
            if prev is not None:
                out.append(Event(i, "removed", prev.name, prev.file, prev.line))
                prev = None
            continue
        if prev is None:
            out.append(Event(i, "added", f"{st.name} {st.signature or st.convention}", st.file, st.line))
        else:
            if prev.name != st.name:
                out.append(Event(i, "renamed", f"{prev.name} -> {st.name} (by {lineage.matched.get(i)})",
                                 st.file, st.line))
            if prev.signature != st.signature and prev.signature and st.signature:
                out.append(Event(i, "signature", f"{prev.signature} -> {st.signature}", st.file, st.line))
            if prev.convention != st.convention:
                out.append(Event(i, "convention", f"{prev.convention} -> {st.convention}", st.file, st.line))
            if prev.guard != st.guard:
                out.append(Event(i, "guard", f"{prev.guard or '(unconditional)'} -> {st.guard or '(unconditional)'}",
                                 st.file, st.line))
            if prev.backends != st.backends:
                gone = sorted(set(prev.backends) - set(st.backends))
                new = sorted(set(st.backends) - set(prev.backends))
                detail = " ".join([f"+{b}" for b in new] + [f"-{b}" for b in gone])
                out.append(Event(i, "backends", detail, st.file, st.line))
        prev = st
    return out


@dataclass(frozen=True)
class AbiPair:
    abi: str
    before: int
    after: int
    changes: int                       # interface changes between the two revisions
    needing: tuple                     # (identity, change kind, finding code, message)


def abi_pairs(abis, lineages, summaries, events_of=None) -> list[AbiPair]:
    """events_of: {identity: [Event]}, computed once by the caller (or here)."""
    if events_of is None:
        events_of = {lin.identity: events(lin, summaries) for lin in lineages}
    changed_at = {}
    for lin in lineages:
        for e in events_of[lin.identity]:
            if e.kind in INTERFACE_KINDS + ("renamed",):
                changed_at.setdefault(e.revision, {}).setdefault(lin.identity, e.kind)
    by_name = {}
    for lin in lineages:
        for i, st in lin.states.items():
            by_name[(i, lin.arch, st.name)] = lin
    indices = [i for i, s in enumerate(summaries) if s.ops]
    out = []
    for abi in abis:
        for a, b in zip(indices, indices[1:]):
            def keyed(i):
                res = {}
                for (name, code, arch, op, sev, message) in summaries[i].findings:
                    lin = by_name.get((i, ARCH_IDENTITY.get(arch, arch), op))
                    if name == abi and lin is not None and code in NEEDS and sev != "note":
                        res[(lin.identity, code)] = message
                return res
            before, after = keyed(a), keyed(b)
            changed = changed_at.get(b, {})
            needing = tuple(sorted((ident, kind, code, after[(ident, code)])
                                   for ident, kind in changed.items()
                                   for (i2, code) in after if i2 == ident and (ident, code) not in before))
            out.append(AbiPair(abi, a, b, len(changed), needing))
    return out
