from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


# Xen batches hypercalls in a multicall: reaching 'multicall' is how a
# batchable hypercall travels, not a hypercall of its own.
TRANSPORT = {"multicall"}


class Glue(CheckRule):
    """The backend's glue code reaches other hypercalls than the ABI maps the op to.

    ## What it does
    With `--trace-glue`, pvscan follows every implementation of the op in
    the ABI's backend through the backend's files down to hypercall
    primitives (docs/glue.md). It reports a hypercall the glue reaches that
    the mapping does not name, and a mapping whose hypercalls the glue
    never reaches although it reaches others. Reaching none at all proves
    nothing (the chain may leave the traced files) and is not reported; a
    multicall that carries a batchable hypercall is not a hypercall of its own.

    ## Why it matters
    A declared map that says what the code does not do answers the ABI
    question wrongly: the derived map is the evidence, with its call chain.

    ## Example
    An ABI mapping `mmu.write_cr3` to `mmu_update` while `xen_write_cr3`
    ends in `MULTI_mmuext_op`.

    ## How to fix
    Correct the mapping after the call chain, or `pvscan derive-abi` a
    fresh skeleton from the glue.
    """

    code = "PV009"
    name = "glue"
    severity = "warning"
    message = "{op}: backend {backend} reaches {reached}, ABI {abi} maps it to {declared}"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.reaches is None or ctx.mapping is None or ctx.op is None or not ctx.reaches:
            return
        reached = {r.hypercall for r in ctx.reaches} - TRANSPORT
        if not reached:
            return
        declared = set(ctx.mapping.hypercalls)
        extra = sorted(reached - declared)
        if extra or (declared and not (declared & reached)):
            chain = next((r for r in ctx.reaches if r.hypercall in extra), ctx.reaches[0])
            flow = tuple((s.file, s.line, s.function) for s in chain.chain)
            yield self.finding(
                ctx, backend=ctx.abi.backend, reached=", ".join(sorted(reached)),
                declared=", ".join(sorted(declared)) or ctx.mapping.to,
                evidence=(" > ".join(s.function for s in chain.chain),), flow=flow)


RULE = Glue
