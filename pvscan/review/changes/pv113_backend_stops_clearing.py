from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, clears

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class BackendStopsClearing(ChangeKind):
    """A backend stops leaving an op NULL: the op now has the native default there.

    ## What it does
    Compares, for each op, the backends whose whole-group copy left it
    NULL, before and after: one that no longer does (the copy is gone, or
    its initializer now names the op) is reported.

    ## Why it matters
    Under that hypervisor the op now runs the native implementation,
    which may issue a privileged instruction the hypervisor traps or
    forbids; before, it was NULL (and never called, or guarded).

    ## Example
    Dropping `xen_mmu_ops` makes Xen's NULL `mmu.set_pgd`, `alloc_p4d`,
    `release_p4d` and `notify_page_enc_status_changed` the native ones.

    ## How to fix
    Check that the native default is right under that hypervisor, or
    implement the op in its backend.
    """

    code, name, severity = "PV113", "backend-stops-clearing", "warning"
    side = "old"
    message = "backend {backend} no longer leaves {op} NULL: it gets the native default"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        if pair.after is None:
            return      # the op is gone: PV102 says so
        before, after = clears(pair.before), clears(pair.after)
        for backend in sorted(set(before) - set(after)):
            c = before[backend]
            yield self.finding(pair.op, c.file, c.line, backend=backend)


RULE = BackendStopsClearing
