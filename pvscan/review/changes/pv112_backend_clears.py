from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.facts.preprocess import guard_terms
from pvscan.review.changes.base import ChangeKind, clears

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class BackendClears(ChangeKind):
    """A backend starts leaving an op NULL: a group it copies whole no longer names the op,
    or names it under a condition the patch takes off the op.

    ## What it does
    Compares, for each op, the backends whose whole-group copy
    ('pv_ops.mmu = xen_mmu_ops.mmu;') leaves it out, before and after.
    And when a patch widens the guard of an op (drops a condition from
    the `#if` around its declaration), it checks every backend that fills
    the op in an initializer: one whose entry for the op still sits under
    the dropped condition is left behind, and is named at that entry.

    ## Why it matters
    A group copy installs the whole struct: an op the copied initializer
    does not name becomes NULL under that hypervisor, not the native
    default; an op a table's own initializer does not name is NULL in
    it. A call of it then jumps to address zero.

    ## Example
    A patch adding `set_pgd` to `pv_ops.mmu` without adding it to Xen's
    `xen_mmu_ops`, which `xen_start_kernel` copies whole. Or one taking
    `#if CONFIG_PGTABLE_LEVELS >= 5` off `p4d_val` and `make_p4d` in
    paravirt_types.h while Xen's mmu_pv.c names them only under it: a
    4-level Xen guest would copy them as NULL (and native's pv_ops,
    whose initializer names them under the same condition, would hold
    NULL too).

    ## How to fix
    Give the backend's initializer an entry for the op, or stop copying the group whole.
    """

    code, name, severity = "PV112", "backend-clears", "warning"
    message = "backend {backend} now leaves {op} NULL (its copy of {source} does not name it)"
    left_behind = ("backend {backend} names {op} ({function}) only when {condition}, which the patch no "
                   "longer requires of the op: where it does not hold, its initializer leaves {op} NULL")

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        before, after = clears(pair.before), clears(pair.after)
        for backend in sorted(set(after) - set(before)):
            c = after[backend]
            yield self.finding(pair.op, c.file, c.line, backend=backend, source=c.source)
        yield from self._left_behind(pair, set(after))

    def _left_behind(self, pair: OpPair, clearing: set[str]) -> Iterator[Finding]:
        """The initializer entries of the op still under a condition the patch drops from its guard."""
        b, a = pair.before, pair.after
        if b is None or a is None or pair.same_guard(b.guard, a.guard):
            return
        dropped = guard_terms(b.guard) - guard_terms(a.guard)
        if not dropped:
            return
        for impl in sorted(a.implementations, key=lambda i: (i.backend, i.file, i.line)):
            still = sorted(dropped & guard_terms(impl.guard))
            if impl.via == "initializer" and still and impl.backend not in clearing:
                yield self.finding(a, impl.file, impl.line, template=self.left_behind, backend=impl.backend,
                                   function=impl.function, condition=" && ".join(still))


RULE = BackendClears
