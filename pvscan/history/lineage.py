"""Ops keep one identity across revisions; their changes, and what each ABI could not have expressed.

In order, an op of one revision is the op of the one before with: the same
name; the other generation's name (pv_mmu_ops.set_pte <-> mmu.set_pte); a
member of the same name and signature found in another table
(paravirt_ops.x -> pv_cpu_ops.x); or the documented RENAMES table. What
matches none of these is a removal plus an addition: nothing is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pvscan.history.run import OpState
from pvscan.identity import ARCH_IDENTITY, RENAMES
INTERFACE_KINDS = ("added", "removed", "signature", "convention", "guard")
NEEDS = {"PV001", "PV002", "PV003", "PV004"}


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
    """One change of an op between a revision and the one before it."""

    revision: int
    kind: str          # added | removed | renamed | signature | convention | guard | backends
    detail: str
    file: str
    line: int


def events(lineage: Lineage, summaries, guards=None) -> list[Event]:
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
            if prev.name != st.name:
                out.append(Event(i, "renamed", f"{prev.name} -> {st.name} (by {lineage.matched.get(i)})",
                                 st.file, st.line))
            if prev.signature != st.signature and prev.signature and st.signature:
                out.append(Event(i, "signature", f"{prev.signature} -> {st.signature}", st.file, st.line))
            if prev.convention != st.convention:
                out.append(Event(i, "convention", f"{prev.convention} -> {st.convention}", st.file, st.line))
            if prev.guard != st.guard and not _same_guard(guards, summaries, i, st, prev.guard):
                out.append(Event(i, "guard", f"{prev.guard or '(unconditional)'} -> {st.guard or '(unconditional)'}",
                                 st.file, st.line))
            if prev.backends != st.backends:
                gone = sorted(set(prev.backends) - set(st.backends))
                new = sorted(set(st.backends) - set(prev.backends))
                detail = " ".join([f"+{b}" for b in new] + [f"-{b}" for b in gone])
                out.append(Event(i, "backends", detail, st.file, st.line))
        prev = st
    return out


VERDICTS = ("absorbed", "native", "needs-abi", "unknown")


def _same_guard(guards, summaries, i, st, before) -> bool:
    logic = (guards or {}).get(i)
    if logic is None:
        return False
    definition = dict(((a, t), f) for a, t, f in summaries[i].definitions).get((st.arch, st.table))
    return logic.equivalent(before, st.guard, st.arch, logic.built_when(definition))


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


def verdict_of(abi, kind, backend, st, needs) -> tuple[str, str, str] | None:
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
        return "needs-abi", "PV001", f"{by}ABI {abi} has no mapping for it"
    if kind == "unsupported":
        return "needs-abi", "PV008" if backend else "", f"{by}ABI {abi} declares it unsupported"
    if kind in ("native", "trap") and backend is None:
        return "native", "", f"ABI {abi} declares it {kind}"
    return "absorbed", "", f"{by}ABI {abi} maps it ({kind})"


def abi_pairs(abis, lineages, summaries, events_of=None) -> list[AbiPair]:
    """events_of: {identity: [Event]}, computed once by the caller (or here)."""
    if events_of is None:
        events_of = {lin.identity: events(lin, summaries) for lin in lineages}
    # Renames are not changes for an ABI: the op is the same (pvscan.identity).
    changed_at = {}
    for lin in lineages:
        for e in events_of[lin.identity]:
            if e.kind in INTERFACE_KINDS:
                changed_at.setdefault(e.revision, {}).setdefault(lin.identity, []).append(e.kind)
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
            after = keyed(b)
            changed = changed_at.get(b, {})
            lineage_of = {lin.identity: lin for lin in lineages}
            verdicts = []
            kind_of = {(ar, o): k for a2, ar, o, k in summaries[b].kinds if a2 == abi}
            backend = dict(summaries[b].witnesses).get(abi)
            for ident, kinds in sorted(changed.items()):
                st = lineage_of[ident].states.get(b)
                # An op the ABI only leaves unmapped (PV001) is a question, not a limit.
                needs = sorted((code, message) for (i2, code), message in after.items()
                               if i2 == ident and code != "PV001")
                kind = kind_of.get((st.arch, st.name)) if st is not None else None
                v = verdict_of(abi, kind, backend, st, needs)
                if v is not None:
                    verdicts.append((ident, " ".join(dict.fromkeys(kinds)), *v))
            needing = tuple((ident, kinds, code, evidence) for ident, kinds, verdict, code, evidence in verdicts
                            if verdict == "needs-abi")
            out.append(AbiPair(abi, a, b, len(verdicts), needing,
                               tuple((ident, kinds, verdict, evidence)
                                     for ident, kinds, verdict, _code, evidence in verdicts)))
    return out


@dataclass(frozen=True)
class HistoryDocument:
    """What `pvscan history` reports: the revisions, each op's lineage and events, and the ABI pairs."""

    summaries: tuple                 # RevisionSummary, in the order given
    lineages: tuple                  # Lineage, sorted by identity
    events: dict                     # identity -> [Event]
    pairs: tuple                     # AbiPair


def history_of(summaries, abis, guards=None) -> HistoryDocument:
    """Link the revisions' ops and find each ABI's pairs: everything the history formats print.
    guards: {revision index: LazyGuardLogic}, see events()."""
    lineages = sorted(link(summaries), key=lambda lin: lin.identity)
    events_of = {lin.identity: events(lin, summaries, guards) for lin in lineages}
    return HistoryDocument(tuple(summaries), tuple(lineages), events_of,
                           tuple(abi_pairs(abis, lineages, summaries, events_of)))
