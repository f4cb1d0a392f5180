"""The inventory before and after a patch -> the change kinds' findings, anchored to the patch.

Ops are paired by architecture and name. A removed and an added op of the
same table, group, convention and signature are one rename when the
pairing is unambiguous; a removed and an added op that are one op under
two generations' names (lock.kick -> pv_ops_lock.kick, time.steal_clock ->
the static call pv_steal_clock, x86's pv_steal_clock -> the generic one)
are one move, when that pairing is unambiguous. Each op's call sites are matched once, here; every
change kind (pvscan.review.changes) then looks at each pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.inventory.model import signature_of
from pvscan.review.changes import change_kinds
from pvscan.review.changes.base import OpPair, call_site_diff

if TYPE_CHECKING:
    from pvscan.inventory.model import Inventory, Op
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch
    from pvscan.review.review import _Anchor


def _shape(op: Op) -> tuple[str, str, str, str, str | None]:
    return (op.arch, op.table, op.group, op.convention, signature_of(op))


def renames(gone: list[Op], new: list[Op]) -> dict:
    """{(arch, old name): new op} for each removed op with exactly one twin among the added, and vice versa."""
    out = {}
    for o in gone:
        if not signature_of(o):
            continue
        twins = [n for n in new if _shape(n) == _shape(o)]
        backs = [g for g in gone if _shape(g) == _shape(o)]
        if len(twins) == 1 and len(backs) == 1:
            out[(o.arch, o.name)] = twins[0]
    return out


def _same_op(old: Op, new: Op) -> bool:
    """Whether old and new are one op under two generations' names (or homes)."""
    from pvscan.identity import member, same_arch
    from pvscan.naming import generation_aliases, static_call_member

    if not (same_arch(old.arch, new.arch) or "generic" in (old.arch, new.arch)):
        return False
    if old.name == new.name or new.name in generation_aliases(old.name) or old.name in generation_aliases(new.name):
        return True
    return static_call_member(new.name) == member(old.name) and "." in old.name


def moves(gone: list[Op], new: list[Op]) -> dict:
    """{(arch, old name): new op} for each removed op that is exactly one added op under another
    generation's name, and vice versa."""
    out = {}
    for o in gone:
        twins = [n for n in new if _same_op(o, n)]
        if len(twins) == 1 and len([g for g in gone if _same_op(g, twins[0])]) == 1:
            out[(o.arch, o.name)] = twins[0]
    return out


def op_pairs(inv_b: Inventory, inv_a: Inventory, guards: LazyGuardLogic | None = None) -> list[OpPair]:
    ops_b = {(o.arch, o.name): o for o in inv_b.ops}
    ops_a = {(o.arch, o.name): o for o in inv_a.ops}
    gone = [ops_b[k] for k in sorted(set(ops_b) - set(ops_a))]
    new = [ops_a[k] for k in sorted(set(ops_a) - set(ops_b))]
    renamed = moves(gone, new)
    taken = {(n.arch, n.name) for n in renamed.values()}
    renamed.update(renames([o for o in gone if (o.arch, o.name) not in renamed],
                           [n for n in new if (n.arch, n.name) not in taken]))
    renamed_from = {(n.arch, n.name): ops_b[old] for old, n in renamed.items()}
    defined_in = {(t.arch, t.name): t.definition for t in inv_b.tables + inv_a.tables if t.definition}
    pairs = []
    for key in sorted(set(ops_b) | set(ops_a)):
        op = ops_a.get(key) or ops_b[key]
        pairs.append(OpPair(ops_b.get(key), ops_a.get(key), renamed.get(key), renamed_from.get(key),
                            call_site_diff(ops_b.get(key), ops_a.get(key)), guards,
                            defined_in.get((op.arch, op.table))))
    return pairs


def diff(inv_b: Inventory, inv_a: Inventory, anchor: _Anchor, guards: LazyGuardLogic | None = None) -> list:
    """Every change kind's findings for every op, each placed on the patch's lines by anchor;
    guards (pvscan.kconfig.LazyGuardLogic) says which guards Kconfig makes equal."""
    kinds = [k() for k in change_kinds()]
    return [anchor.place(f, side=k.side, above=k.anchor_above)
            for pair in op_pairs(inv_b, inv_a, guards) for k in kinds for f in k.changes(pair)]


def hunk_findings(outcomes: list[tuple[FilePatch, HunkOutcome]], applied: bool) -> list:
    """What the hunk kinds (PV120-PV122) say of each hunk's outcome; applied: forward, not taken out."""
    from pvscan.review.changes.base import HunkKind

    kinds = [k() for k in change_kinds() if issubclass(k, HunkKind)]
    return [f for fp, hunk in outcomes for k in kinds for f in k.outcome(fp, hunk, applied)]
