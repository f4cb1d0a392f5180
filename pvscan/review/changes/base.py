"""What every change kind shares: the op on both sides of a patch, and how a change becomes a finding."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.findings import Finding
from pvscan.rule import Rule

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pvscan.inventory.model import CallSite, Op
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch


@dataclass(frozen=True)
class CallSiteDiff:
    """An op's call sites before and after, matched by file, function and macro."""

    added: tuple[CallSite, ...] = ()       # after only
    removed: tuple[CallSite, ...] = ()     # before only
    changed: tuple[tuple[CallSite, CallSite], ...] = ()   # (after, before): same place, other form


@dataclass(frozen=True)
class OpPair:
    """One op (by architecture and name) before and after a patch."""

    before: Op | None
    after: Op | None
    renamed_to: Op | None = None    # the op a removed one became (PV103)
    renamed_from: Op | None = None  # the op an added one was
    sites: CallSiteDiff = CallSiteDiff()
    guards: LazyGuardLogic | None = None   # guards equal under Kconfig
    table_definition: str | None = None  # the .c file defining the op's table (Kbuild builds it or not)

    @property
    def op(self) -> Op:
        """The op after the patch, else before it: a pair has at least one side."""
        op = self.after or self.before
        assert op is not None
        return op

    def same_guard(self, before: str | None, after: str | None) -> bool:
        """Whether two guards hold in the same configurations: equal text, or equal under the
        tree's Kconfig ('CONFIG_PARAVIRT && CONFIG_PARAVIRT_XXL' is 'CONFIG_PARAVIRT_XXL'),
        among the configurations that build the op's table at all (pv_ops is defined in
        paravirt.c, which Kbuild builds only with CONFIG_PARAVIRT)."""
        if before == after:
            return True
        if self.guards is None:
            return False
        within = self.guards.built_when(self.table_definition)
        return self.guards.equivalent(before, after, self.op.arch, within)


def moved(old, new) -> bool:
    """Whether a renamed pair is a move: to another table, between a table and a static call, or
    to another architecture's home (PV115), rather than a rename within its group (PV103)."""
    return (old.table, old.arch) != (new.table, new.arch)


class ChangeKind(Rule):
    """A PV1nn code: changes(pair) yields its findings for one op."""

    side = "new"           # where its location is: a line after the patch, or a removed one ("old")
    anchor_above = False   # anchor to the nearest changed line above (the #if that guards it)

    def changes(self, pair: OpPair) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, op: Op | str, file: str, line: int, template: str | None = None, **args: object) -> Finding:
        """template: another message of the code's, for a case its own message does not fit."""
        name = op if isinstance(op, str) else op.name
        args = {"op": name, **args}
        return Finding(self.code, self.severity, "", name, file, line, template or self.message,
                       tuple(sorted(args.items())), side=self.side)


def site_item(c: CallSite):
    """What identifies a call site across a patch: its place and its form, not its line. The
    place names the macro without its arity (PVOP_VCALL3 -> PVOP_VCALL), so that a call whose
    arguments change is one changed call site, not one removed and one added; the return type a
    PVOP_CALL names is part of its form (read_msr_safe's u64 -> int)."""
    return ((c.file, c.function, _family(c.kind)), c.arity, " ".join((c.return_type or "").split()),
            c.alt_replacement, c.alt_condition_means or c.alt_condition, c.kind, c.guard or "")


def _family(kind: str) -> str:
    return kind.rstrip("0123456789") if kind.startswith("PVOP_") else kind


def call_site_diff(before: Op | None, after: Op | None) -> CallSiteDiff:
    sites_b = {site_item(c): c for c in (before.call_sites if before else ())}
    sites_a = {site_item(c): c for c in (after.call_sites if after else ())}
    lost = (Counter(site_item(c) for c in (before.call_sites if before else ()))
            - Counter(site_item(c) for c in (after.call_sites if after else ())))
    got = (Counter(site_item(c) for c in (after.call_sites if after else ()))
           - Counter(site_item(c) for c in (before.call_sites if before else ())))
    lost_at: dict = {}
    for item in sorted(lost.elements()):
        lost_at.setdefault(item[0], []).append(item)
    added, changed = [], []
    for item in sorted(got.elements()):
        if lost_at.get(item[0]):
            changed.append((sites_a[item], sites_b[lost_at[item[0]].pop(0)]))
        else:
            added.append(sites_a[item])
    removed = [sites_b[item] for items in lost_at.values() for item in items]
    return CallSiteDiff(tuple(added), tuple(removed), tuple(changed))


def describe_site(c: CallSite, with_guard: bool = False) -> str:
    """'PVOP_VCALL2/2 ALT ... if ...' as the code writes it, and its guard when that is what changed."""
    text = f"{c.kind}" + (f"({' '.join(c.return_type.split())})" if c.return_type else "") \
        + (f"/{c.arity}" if c.arity is not None else "")
    text += f" ALT {c.alt_replacement} if {c.alt_condition}" if c.alt_condition else ""
    return text + (f" under {c.guard or '(unconditional)'}" if with_guard else "")


def where(c: CallSite) -> str:
    return f" in {c.function}()" if c.function else ""


def implementations(op: Op | None) -> dict:
    """{(backend, function): Implementation} of an op, or {} for a side where it is absent."""
    return {(i.backend, i.function): i for i in (op.implementations if op else ())}


def swaps(pair: OpPair) -> dict:
    """{backend: (Implementation before, Implementation after)} of the backends that fill the op
    with one function on each side, another after than before: a swap (PV116), which PV110 and
    PV111 leave to it."""
    def one(op) -> dict:
        by_backend: dict = {}
        for i in (op.implementations if op else ()):
            by_backend.setdefault(i.backend, []).append(i)
        return {b: fs[0] for b, fs in by_backend.items() if len(fs) == 1}

    before, after = one(pair.before), one(pair.after)
    return {b: (before[b], after[b]) for b in sorted(set(before) & set(after))
            if before[b].function != after[b].function}


class HunkKind(ChangeKind):
    """A code about how a hunk of the patch applied, not about an op: outcome(file patch, HunkOutcome)."""

    def changes(self, pair: OpPair) -> tuple[()]:
        return ()

    def outcome(self, fp: FilePatch, hunk: HunkOutcome, applied: bool):
        """Findings for one hunk's outcome; applied: the patch was applied forward (not taken back out)."""
        raise NotImplementedError

    def hunk_finding(self, fp: FilePatch, hunk: HunkOutcome, line: int, **args):
        return self.finding("", fp.path, line, hunk=hunk.header, **args)


def clears(op: Op | None) -> dict:
    """{backend: Clear} of the backends whose group copy leaves an op NULL; {} for a side where it is absent."""
    return {c.backend: c for c in (op.cleared_by if op else ())}
