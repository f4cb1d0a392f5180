from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule
from pvscan.inventory.model import signature_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.checks.rules import Context
    from pvscan.findings import Finding


class Drift(CheckRule):
    """The signature the mapping was written against is not the op's signature in the tree.

    ## What it does
    Compares the mapping's pinned `signature` with the op's return type and
    parameter types in the tree (parameter names and spacing do not count).

    ## Why it matters
    The mapping's argument handling was checked against the pinned
    signature; a changed type or an added parameter means it must be
    checked again.

    ## Example
    `signature = "void (pte_t *ptep, pte_t pteval)"` against a tree whose
    `mmu.set_pte` takes a third argument.

    ## How to fix
    Review the mapping against the new signature and update `signature`.
    """

    code = "PV007"
    name = "drift"
    severity = "error"
    message = "{op} is {actual} in the tree; ABI {abi} was written against {pinned}"

    def check(self, ctx: Context) -> Iterator[Finding]:
        if ctx.mapping is None or ctx.op is None or not ctx.mapping.signature:
            return
        actual = signature_of(ctx.op)
        if actual is None:
            return
        if normalize(ctx.mapping.signature) != normalize(actual):
            yield self.finding(ctx, actual=actual, pinned=ctx.mapping.signature)



_TYPE_WORDS = {"int", "long", "short", "char", "unsigned", "signed", "const", "volatile", "void", "bool"}


def normalize(signature: str) -> str:
    """Types only: 'void (pte_t *ptep, pte_t pteval)' -> 'void(pte_t*,pte_t)'."""
    m = re.match(r"\s*(.*?)\s*\((.*)\)\s*$", signature)
    if not m:
        return " ".join(signature.split())
    ret, params = m.group(1), m.group(2)
    out = []
    for p in params.split(","):
        tokens = re.findall(r"[A-Za-z_]\w*|\*|\[[^\]]*\]", p)
        if not tokens or tokens == ["void"]:
            continue
        # Drop the parameter name: a last identifier that follows a type.
        if (len(tokens) >= 2 and re.match(r"[A-Za-z_]", tokens[-1])
                and tokens[-1] not in _TYPE_WORDS and tokens[-2] not in ("struct", "union", "enum")):
            tokens = tokens[:-1]
        out.append("".join(t if t == "*" else t + " " for t in tokens).replace(" *", "*").strip())
    return f"{' '.join(ret.split())}({','.join(out)})"


RULE = Drift
