from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, clears

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class BackendClears(ChangeKind):
    """A backend starts leaving an op NULL: a group it copies whole no longer names the op.

    ## What it does
    Compares, for each op, the backends whose whole-group copy
    ('pv_ops.mmu = xen_mmu_ops.mmu;') leaves it out, before and after.

    ## Why it matters
    A group copy installs the whole struct: an op the copied initializer
    does not name becomes NULL under that hypervisor, not the native
    default. A call of it then jumps to address zero.

    ## Example
    A patch adding `set_pgd` to `pv_ops.mmu` without adding it to Xen's
    `xen_mmu_ops`, which `xen_start_kernel` copies whole.

    ## How to fix
    Give the backend's initializer an entry for the op, or stop copying the group whole.
    """

    code, name, severity = "PV112", "backend-clears", "warning"
    message = "backend {backend} now leaves {op} NULL (its copy of {source} does not name it)"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        before, after = clears(pair.before), clears(pair.after)
        for backend in sorted(set(after) - set(before)):
            c = after[backend]
            yield self.finding(pair.op, c.file, c.line, backend=backend, source=c.source)


RULE = BackendClears
