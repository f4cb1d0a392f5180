"""Ops keep one identity across revisions; their changes, and what each ABI could not have expressed.

In order, an op of one revision is the op of the one before with: the same
name; another generation's name (pv_mmu_ops.set_pte <-> mmu.set_pte,
lock.kick <-> pv_ops_lock.kick); the static call a member became
(time.steal_clock -> pv_steal_clock, 5.12); a member of the same name and
signature found in another table (paravirt_ops.x -> pv_cpu_ops.x); or the
documented RENAMES table. A generic op (7.x's pv_steal_clock, defined in
kernel/sched/cputime.c) continues the op of that name of every architecture
that had it. What matches none of these is a removal plus an addition:
nothing is guessed.

An op matched across tables, architectures or definitions (a generation's
move, a static call's new home) has MOVED; one matched through RENAMES was
RENAMED. A rename is no interface change for an ABI: the op is the same. A
move is one, with the verdict "moved" (unless the ABI cannot carry the op),
and a mapping written under one name applies under the other (pvscan.identity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.checks.rules import all_rules
from pvscan.checks.rules.pv001_unmapped import Unmapped
from pvscan.checks.rules.pv008_backend import Backend
from pvscan.history.run import OpState
from pvscan.identity import ARCH_IDENTITY, RENAMES

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pvscan.history.run import RevisionSummary
    from pvscan.kconfig import LazyGuardLogic


INTERFACE_KINDS = ("added", "removed", "signature", "convention", "guard")
MOVES = ("moved",)
NEEDS = frozenset(rule.code for rule in all_rules() if rule.needs_abi)


@dataclass
class Lineage:
    """One op across revisions."""

    identity: str                      # arch:name where it was first seen
    arch: str
    states: dict = field(default_factory=dict)   # revision index -> OpState
    matched: dict = field(default_factory=dict)  # revision index -> how it was matched to the one before


def _member(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def link(summaries: list[RevisionSummary]) -> list[Lineage]:
    """Each op's lineage across the revisions: matched to the op before it by name, then by the
    name of its generation (pv_cpu_ops.x is pv_ops.cpu.x), then as a static call, by member
    with the same signature, or by a renamed table; else a lineage of its own begins."""
    lineages: list[Lineage] = []
    current: dict[tuple[str, str], Lineage] = {}
    for i, s in enumerate(summaries):
        if s.warning and not s.ops:
            continue
        unmatched_prev = dict(current)
        nxt: dict = {}
        pending, generic = _link_by_name(s.ops, i, unmatched_prev, nxt)
        for op in pending:
            arch = ARCH_IDENTITY.get(op.arch, op.arch)
            found = _earlier_of(op, arch, unmatched_prev)
            if found is not None:
                key, how = found
                lin = unmatched_prev.pop(key)
                lin.states[i], lin.matched[i] = op, how
            else:
                lin = Lineage(f"{arch}:{op.name}", arch)
                lin.states[i] = op
                lineages.append(lin)
            nxt[(arch, op.name)] = lin
        for op in generic:
            linked = _link_generic(op, i, unmatched_prev, nxt)
            if linked is not None:
                lineages.append(linked)
        current = nxt
    return lineages


def _link_by_name(ops, i: int, unmatched_prev: dict, nxt: dict) -> tuple[list, list]:
    """Links each op of revision i to the lineage of its name, or its generation's name, in
    unmatched_prev (taken out, put in nxt); (the ops left, the generic ops)."""
    from pvscan.naming import generation_aliases

    pending, generic = [], []
    for op in ops:
        arch = ARCH_IDENTITY.get(op.arch, op.arch)
        if arch == "generic":
            generic.append(op)
            continue
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
    return pending, generic


def _earlier_of(op: OpState, arch: str, unmatched_prev: dict) -> tuple | None:
    """(key, how) of the one lineage an op no name matched continues, or None."""
    from pvscan.naming import static_call_member

    was = static_call_member(op.name)
    if was is not None:
        # 5.12: pv_ops.time.steal_clock became the static call pv_steal_clock.
        same = [k for k in unmatched_prev if k[0] == arch and "." in k[1] and _member(k[1]) == was]
        if len(same) == 1:
            return same[0], "static call"
    same = [k for k, lin in unmatched_prev.items() if k[0] == arch and _member(k[1]) == _member(op.name)
            and _last(lin).signature == op.signature]
    how = "member"
    if len(same) != 1:
        old = [m for m, new in RENAMES.items() if new == _member(op.name)]
        same = [k for k in unmatched_prev if k[0] == arch and _member(k[1]) in old]
        how = "table"
    return (same[0], how) if len(same) == 1 else None


def _link_generic(op, i: int, unmatched_prev: dict, nxt: dict) -> Lineage | None:
    """A generic op (built for every architecture that enables it) continues the op of its name
    of each architecture; a new lineage when it continues none."""
    from pvscan.naming import static_call_member

    was = static_call_member(op.name)
    same = [k for k in unmatched_prev if k[1] == op.name
            or (was is not None and "." in k[1] and _member(k[1]) == was)]
    for k in sorted(same):
        lin = unmatched_prev.pop(k)
        lin.states[i], lin.matched[i] = op.as_arch(k[0]), "name" if k[1] == op.name else "static call"
        nxt[k] = lin
    if same:
        return None
    lin = Lineage(f"generic:{op.name}", "generic")
    lin.states[i] = op
    nxt[("generic", op.name)] = lin
    return lin


def _last(lin: Lineage) -> OpState:
    return lin.states[max(lin.states)]


@dataclass(frozen=True)
class Event:
    """One change of an op between a revision and the one before it."""

    revision: int
    kind: str          # added | removed | renamed | signature | convention | guard | backends
    detail: str
    file: str
    line: int


def events(lineage: Lineage, summaries: list[RevisionSummary],
           guards: dict[int, LazyGuardLogic] | None = None) -> list[Event]:
    """guards: {revision index: pvscan.kconfig.LazyGuardLogic} of the revisions whose Kconfig can
    be read (trees on disk): there, guards equal under Kconfig are no change."""
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
            out += _changes(lineage, summaries, guards, i, prev, st)
        prev = st
    return out


def _changes(lineage: Lineage, summaries: list[RevisionSummary], guards: dict[int, LazyGuardLogic] | None, i: int,
             prev: OpState, st: OpState) -> list[Event]:
    """The events of an op present in the revision before i (prev) and in i (st)."""
    out = []
    how = lineage.matched.get(i)
    if prev.name != st.name:
        kind = "renamed" if how == "table" else "moved"
        out.append(Event(i, kind, f"{prev.name} -> {st.name} (by {how})", st.file, st.line))
    elif (prev.arch != st.arch and "generic" in (prev.arch, st.arch)) or (
            st.convention == "static_call" and prev.file != st.file):
        # One name, a new home: 7.x defines pv_steal_clock once, in kernel/sched/cputime.c.
        out.append(Event(i, "moved", f"{st.name}: {prev.arch} {prev.file} -> {st.arch} {st.file}",
                         st.file, st.line))
    if prev.signature != st.signature and prev.signature and st.signature:
        out.append(Event(i, "signature", f"{prev.signature} -> {st.signature}", st.file, st.line))
    if prev.convention != st.convention and not _became_static_call(prev, st):
        out.append(Event(i, "convention", f"{prev.convention} -> {st.convention}", st.file, st.line))
    if prev.guard != st.guard and not _same_guard(guards, summaries, i, st, prev.guard, lineage.arch):
        out.append(Event(i, "guard", f"{prev.guard or '(unconditional)'} -> {st.guard or '(unconditional)'}",
                         st.file, st.line))
    if prev.backends != st.backends:
        gone = sorted(set(prev.backends) - set(st.backends))
        new = sorted(set(st.backends) - set(prev.backends))
        detail = " ".join([f"+{b}" for b in new] + [f"-{b}" for b in gone])
        out.append(Event(i, "backends", detail, st.file, st.line))
    return out


VERDICTS = ("absorbed", "native", "needs-abi", "unknown", "moved")


def _became_static_call(prev: OpState, st: OpState) -> bool:
    """A member that became a static call (5.12) changed how it is called as part of the move,
    which the move event says; the ops it calls are the same."""
    return "static_call" in (prev.convention, st.convention) and prev.name != st.name


def _same_guard(guards: dict[int, LazyGuardLogic] | None, summaries: list[RevisionSummary], i: int, st: OpState,
                before: str | None, arch: str) -> bool:
    """arch: the lineage's, which a generic op's Kconfig is read for."""
    logic = (guards or {}).get(i)
    if logic is None:
        return False
    definition = dict(((a, t), f) for a, t, f in summaries[i].definitions).get((st.arch, st.table))
    return logic.equivalent(before, st.guard, arch, logic.built_when(definition))


@dataclass(frozen=True)
class AbiPair:
    """What one ABI says of the changes between two revisions."""

    abi: str
    before: int
    after: int
    changes: int                       # interface changes between the two revisions (renames are none)
    needing: tuple                     # (identity, change kind, finding code, message): the needs-abi ones
    verdicts: tuple = ()               # (identity, change kinds, verdict, evidence), one per changed op

    def count(self, verdict: str) -> int:
        return sum(1 for v in self.verdicts if v[2] == verdict)

    def counts(self) -> dict:
        """{verdict: how many}, every verdict in VERDICTS order."""
        return {v: self.count(v) for v in VERDICTS}


def verdict_of(abi: str, kind: str | None, backend: str | None, st: OpState | None,
               needs: list[tuple[str, str] | Any]) -> tuple[str, str, str] | None:
    """(verdict, finding code, evidence) for an op changed into state st (None: removed), whose
    coverage kind under the ABI in that revision is kind, when backend (or None) is the ABI's
    own backend there; None when the op is outside the ABI's configuration.

    The backend is the witness: an op it leaves alone is native; one it fills is absorbed when
    the ABI maps it and nothing constrains the mapping, else it needs the ABI. With no such
    backend, the ABI's mapping decides, and its silence is unknown."""
    if st is None:
        return "absorbed", "", "removed: the ABI has nothing left to carry for it"
    if kind is None or kind == "excluded":
        return None
    if backend is not None and backend not in st.backends:
        return "native", "", f"backend {backend} leaves it native"
    if needs:
        code, message = needs[0]
        return "needs-abi", code, message
    by = f"backend {backend} implements it, and " if backend is not None else ""
    if kind == "unmapped":
        if backend is None:
            return "unknown", "", f"no {abi} backend in this revision, and the ABI does not map it"
        return "needs-abi", Unmapped.code, f"{by}ABI {abi} has no mapping for it"
    if kind == "unsupported":
        return "needs-abi", Backend.code if backend else "", f"{by}ABI {abi} declares it unsupported"
    if kind in ("native", "trap") and backend is None:
        return "native", "", f"ABI {abi} declares it {kind}"
    return "absorbed", "", f"{by}ABI {abi} maps it ({kind})"


def abi_pairs(abis: Sequence[str], lineages: list[Lineage], summaries: list[RevisionSummary],
              events_of: dict[str, list[Event]] | None = None) -> list[AbiPair]:
    """What each ABI makes of the interface changes between consecutive revisions.
    events_of: {identity: [Event]}, computed once by the caller (or here)."""
    if events_of is None:
        events_of = {lin.identity: events(lin, summaries) for lin in lineages}
    # Renames are not changes for an ABI: the op is the same (pvscan.identity).
    changed_at: dict = {}
    moved_at: dict = {}    # revision -> {identity: what moved}
    for lin in lineages:
        for e in events_of[lin.identity]:
            if e.kind in INTERFACE_KINDS or e.kind in MOVES:
                changed_at.setdefault(e.revision, {}).setdefault(lin.identity, []).append(e.kind)
            if e.kind in MOVES:
                moved_at.setdefault(e.revision, {})[lin.identity] = e.detail
    by_name: dict = {}     # (revision, arch, op) -> lineages: a generic op's state is several's
    for lin in lineages:
        for i, st in lin.states.items():
            by_name.setdefault((i, ARCH_IDENTITY.get(st.arch, st.arch), st.name), []).append(lin)
    lineage_of = {lin.identity: lin for lin in lineages}
    indices = [i for i, s in enumerate(summaries) if s.ops]
    out = []
    for abi in abis:
        for a, b in zip(indices, indices[1:]):
            verdicts = _pair_verdicts(abi, summaries[b], b, changed_at.get(b, {}), moved_at.get(b, {}),
                                      lineage_of, by_name)
            needing = tuple((ident, kinds, code, evidence) for ident, kinds, verdict, code, evidence in verdicts
                            if verdict == "needs-abi")
            out.append(AbiPair(abi, a, b, len(verdicts), needing,
                               tuple((ident, kinds, verdict, evidence)
                                     for ident, kinds, verdict, _code, evidence in verdicts)))
    return out


def _needs_of(abi: str, summary: RevisionSummary, b: int, by_name: dict) -> dict:
    """{(identity, code): message} of the findings of revision b under abi that say the ABI
    cannot express the op (Rule.needs_abi), notes aside."""
    res = {}
    for (name, code, arch, op, sev, message) in summary.findings:
        for lin in by_name.get((b, ARCH_IDENTITY.get(arch, arch), op), ()):
            if name == abi and code in NEEDS and sev != "note":
                res[(lin.identity, code)] = message
    return res


def _pair_verdicts(abi: str, summary: RevisionSummary, b: int, changed: dict, moved_at: dict, lineage_of: dict,
                   by_name: dict) -> list[tuple]:
    """[(identity, kinds, verdict, code, evidence)] of each op that changed on the way to
    revision b (summary), as abi judges it there."""
    after = _needs_of(abi, summary, b, by_name)
    kind_of = {(ar, o): k for a2, ar, o, k in summary.kinds if a2 == abi}
    # A generic op is judged for the ABI's architecture: the lineages of the others'
    # kernels (arm64's pv_steal_clock, for an x86 ABI) get no verdict from it.
    abi_arches = {ARCH_IDENTITY.get(ar, ar) for a2, ar, _o, _k in summary.kinds if a2 == abi} - {"generic"}
    backend = dict(summary.witnesses).get(abi)
    verdicts = []
    for ident, kinds in sorted(changed.items()):
        st = lineage_of[ident].states.get(b)
        if st is not None and st.arch == "generic" and lineage_of[ident].arch not in abi_arches | {"generic"}:
            continue
        # An op the ABI only leaves unmapped (PV001) is a question, not a limit.
        needs = sorted((code, message) for (i2, code), message in after.items()
                       if i2 == ident and code != Unmapped.code)
        kind = kind_of.get((st.arch, st.name)) if st is not None else None
        v = verdict_of(abi, kind, backend, st, needs)
        moved = moved_at.get(ident)
        if v is not None and moved is not None and v[0] != "needs-abi":
            # Changed on the way, but the op and what fills it are the ones before.
            v = ("moved", "", f"moved ({moved}); {v[2]}")
        if v is not None:
            verdicts.append((ident, " ".join(dict.fromkeys(kinds)), *v))
    return verdicts


@dataclass(frozen=True)
class HistoryDocument:
    """What `pvscan history` reports: the revisions, each op's lineage and events, and the ABI pairs."""

    summaries: tuple                 # RevisionSummary, in the order given
    lineages: tuple                  # Lineage, sorted by identity
    events: dict                     # identity -> [Event]
    pairs: tuple                     # AbiPair
    area_changes: tuple = ()         # (revision, abi, area, what changed) between consecutive revisions
    color: bool = False              # the text's verdicts in colour (a terminal)


def history_of(summaries: list[RevisionSummary], abis: Sequence[str],
               guards: dict[int, LazyGuardLogic] | None = None) -> HistoryDocument:
    """Link the revisions' ops and find each ABI's pairs: everything the history formats print.
    guards: {revision index: LazyGuardLogic}, see events()."""
    lineages = sorted(link(summaries), key=lambda lin: lin.identity)
    events_of = {lin.identity: events(lin, summaries, guards) for lin in lineages}
    return HistoryDocument(tuple(summaries), tuple(lineages), events_of,
                           tuple(abi_pairs(abis, lineages, summaries, events_of)), area_changes(summaries))


def area_changes(summaries: list[RevisionSummary]) -> tuple:
    """(revision, abi, area, detail) for each shared-area field whose place changed between two
    consecutive revisions that both have the area: the hypervisor writes where it always did."""
    out = []
    indices = [i for i, s in enumerate(summaries) if s.ops]
    for a, b in zip(indices, indices[1:]):
        before = {(abi, area): {name: (o, n) for name, o, n in fields} for abi, area, fields in summaries[a].areas}
        for abi, area, fields in summaries[b].areas:
            old = before.get((abi, area))
            if old is None:
                continue
            for name, offset, size in fields:
                if name in old and old[name] != (offset, size):
                    out.append((b, abi, area, f"field {name}: {_place(old[name])} -> {_place((offset, size))}"))
    return tuple(out)


def _place(where) -> str:
    offset, size = where
    return "not in the struct" if offset is None else f"offset {offset}, {size} byte(s)"
