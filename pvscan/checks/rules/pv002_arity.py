from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from pvscan.abi import Hypercall
    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Arity(CheckRule):
    """An op passes more arguments than the hypercall carries, or than the ABI passes in registers.

    ## What it does
    For an op mapped to hypercalls, counts what reaches each hypercall:
    the entries of the mapping's `arg_map` (that hypercall's own, when
    `arg_map` is a table), or else one argument per op parameter. It
    reports when that is more than the hypercall declares (`args`), or
    when the register slots it takes (an argument wider than the ABI word
    takes two) are more than `register_args` and the ABI has no
    `stack_args` to carry the rest (VMI's regparm(3) calls do; Xen's and
    KVM's hypercalls pass registers only).

    ## Why it matters
    Arguments that do not fit are passed in memory, or need a new
    hypercall: a frozen ABI then limits adding a parameter to the op.

    ## Example
    lguest's LHCALL_SET_PTE passes four 32-bit words in registers; a
    PAE op passing a pointer, a 64-bit pte_t and the mm needs five. (VMI's
    SetPxELong also needs four slots, but VMI declares `stack_args`.)

    ## How to fix
    Map the op to a hypercall that carries its arguments (or pass a
    pointer to a block), and state the mapping in `arg_map`.
    """

    code = "PV002"
    constrains = needs_abi = True
    name = "arity"
    severity = "error"
    message = ("{op} needs {need} {unit} for hypercall {hypercall}, which carries {have} "
               "(ABI {abi})")

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.witness:
            return   # the tree's backend carries it: PV010 if the file says it cannot
        for args, evidence in self.violations(ctx):
            yield self.finding(ctx, evidence=evidence, **args)

    def violations(self, ctx: Context) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
        """(message arguments, evidence) of each way the mapping cannot carry the op."""
        if ctx.mapping is None or ctx.mapping.to != "hypercall" or ctx.op is None:
            return
        from pvscan.checks.rules import size_of

        abi = ctx.abi
        params = ctx.op.params or ()
        for name in ctx.mapping.hypercalls:
            hc = abi.hypercall(name, ctx.version)
            if hc is None:     # load_abi refuses a mapping to an undeclared hypercall
                continue
            arg_map = ctx.mapping.args_for(name)
            if arg_map is not None:
                count = len(arg_map)
                widths = [_width_of(ctx, entry, params, hc, i) for i, entry in enumerate(arg_map)]
            else:
                count = len(params)
                widths = [size_of(ctx, p.type)[0] for p in params]
            if count > len(hc.args):
                yield (dict(need=count, unit="arguments", hypercall=name, have=len(hc.args)),
                       (f"hypercall {name}: {hc.source}",))
                continue
            slots = sum(max(1, -(-(w or abi.word_bits) // abi.word_bits)) for w in widths)
            if slots > abi.register_args and not abi.stack_args:
                yield (dict(need=slots, unit="register slots", hypercall=name,
                            have=f"{abi.register_args} in registers"),
                       (f"ABI {abi.name}: register_args = {abi.register_args}, word_bits = {abi.word_bits}",))


def _width_of(ctx: Context, entry: str, params, hc: Hypercall, index: int) -> int | None:
    from pvscan.checks.rules import size_of

    base = entry.split(".")[0]
    for p in params:
        if p.name == base and not entry.endswith((".lo", ".hi")):
            return size_of(ctx, p.type)[0]
    if index < len(hc.args):
        return hc.args[index]
    return ctx.abi.word_bits


RULE = Arity
