from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Width(CheckRule):
    """An argument or the return value is wider than what the ABI carries for it.

    ## What it does
    Sizes each op parameter and the return type for the ABI's target from
    the documented type table (docs/abi-format.md), and compares it with the
    width of the argument it goes to in each of the mapping's hypercalls,
    or with the ABI word when the hypercall declares none for it; a return
    value with the ABI word times `return_words` (2 on i386, where edx:eax
    carry 64 bits). A parameter or "return" listed in the mapping's `split`
    is carried in two words and is not reported.
    Types the table does not know are not reported.

    ## Why it matters
    A 64-bit `pte_t` through a 32-bit ABI is cut in half unless the ABI
    says how to split it; growing a type (PAE, 5-level paging) then needs
    a new hypercall.

    ## Example
    lguest's LHCALL_SET_PMD passes 32-bit words; `pmd_t` is 64 bits with PAE.

    ## How to fix
    Map to a hypercall whose argument is wide enough, or list the
    parameter in `split` when the ABI passes it in two words.
    """

    code = "PV003"
    constrains = needs_abi = True
    name = "width"
    severity = "error"
    message = "{op}: {what} ({ctype}) is {bits} bits; ABI {abi} carries {have} for it"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.witness:
            return   # the tree's backend carries it: PV010 if the file says it cannot
        for args, evidence in self.violations(ctx):
            yield self.finding(ctx, evidence=evidence, **args)

    def violations(self, ctx: Context) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
        """(message arguments, evidence) of each value the mapping is too narrow for."""
        if ctx.mapping is None or ctx.mapping.to != "hypercall" or ctx.op is None:
            return
        from pvscan.checks.rules import size_of

        abi, mapping, op = ctx.abi, ctx.mapping, ctx.op
        said = set()
        for name in mapping.hypercalls:
            hc = abi.hypercall(name, ctx.version)
            if hc is None:     # load_abi refuses a mapping to an undeclared hypercall
                continue
            arg_map = mapping.args_for(name)
            for index, p in enumerate(op.params or ()):
                if p.name in mapping.split or not p.type:
                    continue
                bits, source = size_of(ctx, p.type)
                if arg_map is None:
                    position = index
                elif p.name in arg_map:
                    position = arg_map.index(p.name)
                else:
                    continue   # not passed as it is
                have = hc.args[position] if position < len(hc.args) else abi.word_bits
                if bits is not None and bits > have and (p.name, index) not in said:
                    said.add((p.name, index))
                    yield (dict(what=f"parameter {p.name or index + 1}", ctype=p.type, bits=bits, have=have),
                           (f"{p.type} is {bits} bits ({source})",))
        if op.return_type and "return" not in mapping.split:
            bits, source = size_of(ctx, op.return_type)
            have = abi.word_bits * abi.return_words
            if bits is not None and bits > have:
                yield (dict(what="the return value", ctype=op.return_type, bits=bits, have=have),
                       (f"{op.return_type} is {bits} bits ({source})",))


RULE = Width
