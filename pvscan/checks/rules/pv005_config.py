from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.abi import kernel_span
from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Config(CheckRule):
    """The op's configuration guard and the ABI's configuration do not agree.

    ## What it does
    Evaluates the op's guard under the ABI's [abi.config]. It reports a
    warning when the ABI maps an op that cannot exist in that configuration
    (the guard is false there), and a note when the guard names symbols the
    ABI does not declare, so that nobody knows whether the ABI covers the
    configurations the op exists in.

    ## Why it matters
    An ABI is frozen for a set of configurations. An op that appears only
    under another option (5-level paging, IOPL emulation) is outside what
    the ABI promises, whatever its mapping says.

    ## Example
    `mmu.set_pgd` exists only when `CONFIG_PGTABLE_LEVELS >= 5`; an ABI
    that does not declare CONFIG_PGTABLE_LEVELS gets a note. So does one
    for x86-64 whose configuration the tree's Kconfig completes to
    `CONFIG_PGTABLE_LEVELS = 4 or 5` (5 only with X86_5LEVEL, which the
    ABI does not state).

    ## How to fix
    Declare the symbols in [abi.config], or drop the mapping of an op the
    configuration cannot have.
    """

    code = "PV005"
    name = "config"
    severity = "warning"
    message = "{op} exists only if {guard}; {detail} (ABI {abi})"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.op is None:
            return
        if ctx.exists is False and ctx.elsewhere is not None and ctx.elsewhere.to != "unsupported":
            # A mapping for other kernels: there the op is under another guard.
            span = kernel_span(ctx.elsewhere.kernels)
            yield self.finding(ctx, severity="note", guard=ctx.op.guard,
                               detail=f"ABI maps it for other kernels ({span}), and its configuration "
                                      "excludes it here")
        elif ctx.exists is False and ctx.mapping is not None and ctx.mapping.to != "unsupported":
            yield self.finding(ctx, guard=ctx.op.guard,
                               detail="ABI maps it, but its configuration excludes that")
        elif ctx.exists is None:
            unset = sorted(s for s in ctx.missing_symbols if s not in ctx.abi.config)
            # Completed from the tree's Kconfig to one of several values, as PGTABLE_LEVELS is
            # 4 or 5 on x86-64 with nothing said of X86_5LEVEL.
            ranging = {s: values for s in sorted(ctx.missing_symbols)
                       if isinstance(values := ctx.abi.config.get(s), frozenset)}
            said = ([f"does not set {', '.join(unset)}"] if unset else []) + [
                f"leaves {s} at {' or '.join(map(str, sorted(values)))}" for s, values in ranging.items()]
            yield self.finding(ctx, severity="note", guard=ctx.op.guard,
                               detail=f"the ABI's configuration {' and '.join(said) or 'does not decide it'}")


RULE = Config
