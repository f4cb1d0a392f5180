from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Backend(CheckRule):
    """The tree's backend for the hypervisor disagrees with the ABI.

    ## What it does
    For an ABI that names its backend (`backend = "xen"`) in a tree that has
    that backend, reports an op
    the ABI maps to hypercalls or to shared memory while that backend leaves
    the native default
    in place, and an op the ABI declares unsupported while the backend
    implements it.

    ## Why it matters
    Either the declaration or the glue code is out of date: a mapped op
    the backend never installs is dead ABI, an unsupported op the backend
    implements is an interface the ABI does not admit to.

    ## Example
    An ABI that maps `mmu.set_pgd` to mmu_update against Linux 6.12, where
    Xen PV leaves `set_pgd` NULL.

    ## How to fix
    Correct the mapping, or the backend.
    """

    code = "PV008"
    name = "backend"
    severity = "warning"
    message = "{op}: ABI {abi} {says}, but backend {backend} {does}"

    def check(self, ctx: Context) -> Iterator[Finding]:
        backend = ctx.abi.backend
        if (not backend or backend not in ctx.backends or ctx.mapping is None or ctx.op is None
                or ctx.exists is False):
            return   # (a tree without that backend at all has nothing to disagree with)
        implements = backend in ctx.op.backends
        cleared = any(c.backend == backend for c in ctx.op.cleared_by)
        if ctx.mapping.to in ("hypercall", "shared") and not implements:
            does = "leaves it NULL" if cleared else "leaves the native default"
            to = ctx.mapping.hypercalls or ctx.mapping.uses
            yield self.finding(ctx, backend=backend, says=f"maps it to {', '.join(to)}", does=does)
        elif ctx.mapping.to == "unsupported" and implements:
            where = next(i for i in ctx.op.implementations if i.backend == backend)
            yield self.finding(ctx, backend=backend, says="declares it unsupported",
                               does=f"implements it with {where.function} ({where.file}:{where.line})",
                               evidence=(f"{where.file}:{where.line}: {where.function}",))


RULE = Backend
