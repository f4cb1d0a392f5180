from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Convention(CheckRule):
    """A callee-save op is mapped to a hypercall that clobbers registers.

    ## What it does
    Reports an op whose convention is callee-save (`struct
    paravirt_callee_save`: its callers keep values in caller-saved
    registers across the call) when the mapping sends it to a hypercall
    declared with `clobbers = true`, and the mapping does not say that a
    register-saving thunk sits in between (`thunk = true`).

    ## Why it matters
    The call sites of a callee-save op do not save registers; a hypercall
    that clobbers them corrupts the caller, or forces a thunk on every call.

    ## Example
    `irq.save_fl` mapped straight to a Xen hypercall would clobber rdi, rsi,
    rdx, r10 and r8 under a caller that expects them intact.

    ## How to fix
    Put a PV_CALLEE_SAVE_REGS_THUNK between op and hypercall and say so
    with `thunk = true`, or map to a call that preserves registers.
    """

    code = "PV004"
    constrains = needs_abi = True
    name = "convention"
    severity = "error"
    message = "{op} is callee-save but hypercall {hypercall} clobbers registers (ABI {abi})"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if (ctx.mapping is None or ctx.op is None or ctx.mapping.to != "hypercall"
                or ctx.op.convention != "callee_save" or ctx.mapping.thunk):
            return
        for name in ctx.mapping.hypercalls:
            hc = ctx.abi.hypercall(name, ctx.version)
            if hc is None:     # load_abi refuses a mapping to an undeclared hypercall
                continue
            if hc.clobbers:
                yield self.finding(ctx, hypercall=name, evidence=(f"hypercall {name}: {hc.source}",))


RULE = Convention
