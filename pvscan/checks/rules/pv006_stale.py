from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.abi import kernel_span
from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Stale(CheckRule):
    """The ABI maps an op that the tree does not have.

    ## What it does
    Reports each [[mapping]] whose op names no op of the ABI's architecture
    in the tree, after the documented renaming between generations
    (docs/abi-format.md: `pv_mmu_ops.set_pte` is `mmu.set_pte` in a unified
    tree, `paravirt_ops.cpuid` in 2.6.22). The finding points at the mapping
    in the ABI file. A mapping that states the kernels it is for
    (`kernels = "2.6.20-2.6.22"`) and whose range leaves out the tree's
    version is only a note: an ABI that spans an era maps ops that only part
    of the era had.

    ## Why it matters
    The kernel removed or renamed the op: the ABI describes an interface
    that no longer exists, which is exactly how a frozen ABI falls behind.

    ## Example
    An ABI written for 6.1 maps `mmu.activate_mm`, which 6.12 replaced
    with `mmu.enter_mmap`.

    ## How to fix
    Remove the mapping, or rename it after the op that replaced it.
    """

    code = "PV006"
    name = "stale"
    severity = "warning"
    message = "ABI {abi} maps {op}, which this tree does not have{era}"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.op is None and ctx.mapping is not None:
            if ctx.other_era:
                yield self.finding(ctx, severity="note", at_abi=True, evidence=(ctx.mapping.source,),
                                   era=f" (the mapping is for kernels {kernel_span(ctx.mapping.kernels)})")
            else:
                yield self.finding(ctx, at_abi=True, evidence=(ctx.mapping.source,), era="")


RULE = Stale
