from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.abi import kernel_span
from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Unmapped(CheckRule):
    """The tree has an op that the ABI neither maps nor declares native, trap or unsupported.

    ## What it does
    Reports every op of the ABI's architecture that can exist in the ABI's
    configuration (its guard is not false there) and that no [[mapping]] names,
    unless the tree holds the ABI's own backend and that backend leaves the
    op at the native default: the kernel shipped it that way, so the op
    needs nothing from the ABI (it counts as native).

    ## Why it matters
    An op the ABI does not mention is one the hypervisor was never asked
    about: a backend for it has to fall back to native code or to trapping,
    and nobody has said whether either works.

    A mapping whose `kernels` range leaves the tree's version out never
    applies to it: the op is unmapped there, and the finding names the
    kernels the mapping is for.

    ## Example
    Linux 6.12 adds `mmu.enter_mmap`; an ABI written for 6.1 maps
    `mmu.activate_mm` and `mmu.dup_mmap` but not it.

    ## How to fix
    Add a [[mapping]] for the op: the hypercalls it ends in, the shared
    area fields it works through (`to = "shared"`), or `to = "native"`,
    `"trap"` or `"unsupported"` with a reason.
    """

    code = "PV001"
    needs_abi = True
    name = "unmapped"
    severity = "warning"
    message = "{op} is not mapped by ABI {abi}{era}"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.mapping is None and ctx.op is not None and ctx.exists is not False and not ctx.witnessed_native:
            era = ""
            if ctx.elsewhere is not None:
                # A mapping written for other kernels never applies to this one.
                era = f" for this kernel (it maps it for kernels {kernel_span(ctx.elsewhere.kernels)})"
            yield self.finding(ctx, era=era)


RULE = Unmapped
