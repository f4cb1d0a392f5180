"""The checks, one module each, numbered like flake8's and ruff's rules.

A rule is a class with a stable code, a name, a default severity, a
docstring in four parts (What it does / Why it matters / Example / How to
fix) from which `pvscan rules` and docs/rules.md are made, and check(ctx),
which yields findings for one op against one ABI. Adding a rule is adding a
module here and listing it in RULES.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from pvscan.findings import Finding


@dataclass
class Context:
    """One op of the tree against one ABI, with what the rules share."""

    abi: object                   # pvscan.abi.Abi
    op: object | None             # pvscan.inventory.Op, None for a stale mapping
    mapping: object | None        # pvscan.abi.Mapping, None when unmapped
    exists: bool | None           # the op's guard under the ABI's config: True, False, None (unknown)
    missing_symbols: set = field(default_factory=set)
    backends: frozenset = frozenset()   # backends the tree has for the ABI's architecture
    reaches: tuple | None = None        # glue.Reach of the ABI's backend for this op, when traced
    precise: object | None = None       # precise.PreciseSizes for the ABI's target, in precise mode


def size_of(ctx: Context, ctype: str | None):
    """(bits, where the size comes from): libclang in precise mode, else the documented table."""
    from pvscan.checks.typesizes import size_bits

    if ctx.precise is not None:
        bits = ctx.precise.get(ctype)
        if bits is not None:
            return bits, f"libclang, {ctx.precise.target}, {ctx.precise.config} configuration"
    bits = size_bits(ctype, ctx.abi.target)
    return bits, f"type table, {ctx.abi.target}"


class Rule:
    code = "PV000"
    name = "rule"
    severity = "warning"
    message = ""

    def check(self, ctx: Context):
        raise NotImplementedError

    def finding(self, ctx: Context, severity=None, evidence=(), at_abi=False, flow=(), **args) -> Finding:
        if at_abi or ctx.op is None:
            file, line, in_tree = ctx.abi.path, (ctx.mapping.line if ctx.mapping else ctx.abi.line), False
        else:
            file, line, in_tree = ctx.op.file, ctx.op.line, True
        op = ctx.op.name if ctx.op is not None else ctx.mapping.op
        args = {"op": op, "abi": ctx.abi.name, **args}
        return Finding(self.code, severity or self.severity, ctx.abi.name, op, file, line,
                       self.message, tuple(sorted(args.items())), tuple(evidence), in_tree, flow=tuple(flow))

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.doc().splitlines()[0] if cls.__doc__ else cls.name


def all_rules():
    from pvscan.checks.rules import (pv001_unmapped, pv002_arity, pv003_width, pv004_convention, pv005_config,
                              pv006_stale, pv007_drift, pv008_backend, pv009_glue)

    return [m.RULE for m in (pv001_unmapped, pv002_arity, pv003_width, pv004_convention, pv005_config,
                             pv006_stale, pv007_drift, pv008_backend, pv009_glue)]


def rule(code: str):
    """A check (PV0nn) or a review change kind (PV1nn) by its code."""
    from pvscan.review.changes import CHANGE_KINDS

    return next((r for r in all_rules() + CHANGE_KINDS if r.code == code.upper()), None)
