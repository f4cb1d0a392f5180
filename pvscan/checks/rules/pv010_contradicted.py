from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.glue import Step
    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Contradicted(CheckRule):
    """The ABI file says its hypercall cannot carry an op that its own backend in the tree carries with it.

    ## What it does
    In a tree that holds the ABI's backend (`backend = "vmi"`), for an op
    that backend fills, runs the arity (PV002) and width (PV003) checks of
    the op's mapping. What they would report is reported here instead,
    anchored to the ABI file's mapping, with the backend's implementation
    (and, with `--trace-glue`, the call chain to the hypercall) as evidence;
    PV002 and PV003 stay silent for that op.

    ## Why it matters
    The kernel shipped that backend: the op does travel through that
    hypercall, so the limit is in the ABI file, not in the kernel. Calling
    it a kernel constraint would contradict the tree being read.

    ## Example
    An ABI declaring VMI's WriteLDTEntry with three arguments, checked
    against 2.6.22, whose vmi.c fills the four-argument
    `paravirt_ops.write_ldt_entry` straight with that ROM call.

    ## How to fix
    Correct the hypercall's `args`, the mapping's `arg_map` or `split`, or
    the ABI's `register_args`/`stack_args`/`return_words`, after the backend.
    """

    code = "PV010"
    name = "contradicted"
    severity = "warning"
    message = ("{op}: ABI {abi} says {detail}, but backend {backend} in this tree carries it "
               "with {function} ({where})")

    def check(self, ctx: Context) -> Iterator[Finding]:
        if not ctx.witness or ctx.op is None or ctx.mapping is None or ctx.mapping.to != "hypercall":
            return
        from pvscan.checks.rules.pv002_arity import Arity
        from pvscan.checks.rules.pv003_width import Width

        impl = ctx.witness[0]
        chain: tuple[Step, ...] = ()
        if ctx.reaches:
            reach = next((r for r in ctx.reaches if r.hypercall in ctx.mapping.hypercalls), None)
            chain = reach.chain if reach is not None else ()
        flow = tuple((s.file, s.line, s.function) for s in chain)
        for rule in (Arity(), Width()):
            for args, evidence in rule.violations(ctx):
                detail = rule.message.format(op=ctx.op.name, abi=ctx.abi.name, **args)
                detail = detail.removeprefix(ctx.op.name + ":").removeprefix(ctx.op.name).strip()
                detail = detail.removesuffix(f"(ABI {ctx.abi.name})").strip()
                yield self.finding(
                    ctx, at_abi=True, backend=ctx.abi.backend, detail=f"{rule.code} {detail}",
                    function=impl.function, where=f"{impl.file}:{impl.line}",
                    evidence=(f"{impl.file}:{impl.line}: {impl.function} ({impl.via})", *evidence,
                              *((" > ".join(s.function for s in chain),) if chain else ())),
                    flow=flow)


RULE = Contradicted
