from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, moved

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class OpMoved(ChangeKind):
    """The patch moves an op to another table, into a static call, or to another home.

    ## What it does
    Pairs a removed and an added op that are one op under two generations'
    names, when the pairing is unambiguous: `lock.kick` becoming
    `pv_ops_lock.kick` (the 7.x lock table), `time.steal_clock` becoming the
    static call `pv_steal_clock` (5.12), x86's `pv_steal_clock` becoming the
    one defined for every architecture in kernel/sched/cputime.c (7.x).

    ## Why it matters
    The op and what each backend puts in it stay the same, and an ABI that
    maps it under either name keeps mapping it; but every backend and every
    caller outside the tree must name it the new way, and a table of its own
    changes how its calls are patched.

    ## Example
    `pv_ops.lock.kick = xen_qlock_kick;` becoming `pv_ops_lock.kick = xen_qlock_kick;`.

    ## How to fix
    Nothing in the declared ABIs; update out-of-tree backends and callers.
    """

    code, name, severity = "PV115", "op-moved", "warning"
    changes_interface = True
    counted_as = "op(s) moved"
    message = "patch moves op {old} to {op} ({where})"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        if (pair.after is None and pair.before is not None and pair.renamed_to is not None
                and moved(pair.before, pair.renamed_to)):
            old, new = pair.before, pair.renamed_to
            where = (f"table {old.table} -> {new.table}" if old.table != new.table
                     else f"{old.arch} {old.file} -> {new.arch} {new.file}")
            yield self.finding(new, new.file, new.line, old=old.name, where=where)


RULE = OpMoved
