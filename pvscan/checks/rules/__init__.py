"""The checks, one module each, numbered like flake8's and ruff's rules.

A check is a CheckRule (pvscan.rule.Rule: code, name, severity, message,
four-part docstring) with check(ctx), which yields findings for one op
against one ABI. Adding a check is adding a module here, named pvNNN_name.py
with its class as RULE, and one test: all_rules() finds it by its name.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.findings import Finding
from pvscan.rule import Rule

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pvscan.abi import Abi, Mapping
    from pvscan.checks.glue import Reach
    from pvscan.checks.precise import PreciseSizes
    from pvscan.inventory.model import Implementation, Op


@dataclass
class Context:
    """One op of the tree against one ABI, with what the rules share."""

    abi: Abi
    op: Op | None                 # None for a stale mapping
    mapping: Mapping | None       # None when unmapped
    exists: bool | None           # the op's guard under the ABI's config: True, False, None (unknown)
    missing_symbols: set[str] = field(default_factory=set)
    backends: frozenset[str] = frozenset()   # backends the tree has for the ABI's architecture
    reaches: tuple[Reach, ...] | None = None   # of the ABI's backend for this op, when traced
    precise: PreciseSizes | None = None        # for the ABI's target, in precise mode
    # The ABI's own backend as witness, when the tree has it (docs/check.md):
    # its implementations of this op; empty when it leaves the native default.
    witness: tuple[Implementation, ...] | None = None
    version: tuple[int, ...] | None = None     # the tree's (major, minor, sub), when known
    # The op's mapping for other kernels, which does not apply to this tree (its kernels range
    # leaves the tree's version out): the op is unmapped here, and the findings say so.
    elsewhere: Mapping | None = None

    @property
    def other_era(self) -> bool:
        """The mapping states the kernels it is for, and the tree's version is not among them."""
        if self.elsewhere is not None:
            return True
        return bool(self.version) and self.mapping is not None and self.mapping.covers(self.version) is False

    @property
    def witnessed_native(self) -> bool:
        """The tree's backend for the ABI leaves the op at the native default (neither fills
        nor clears it): the ABI needs nothing for it, whatever the file says or omits."""
        return (self.witness is not None and not self.witness and self.op is not None
                and not any(c.backend == self.abi.backend for c in self.op.cleared_by))


def size_of(ctx: Context, ctype: str | None) -> tuple[int | None, str]:
    """(bits, where the size comes from): libclang in precise mode, else the documented table."""
    from pvscan.checks.typesizes import size_bits

    if ctx.precise is not None:
        bits = ctx.precise.get(ctype)
        if bits is not None:
            return bits, f"libclang, {ctx.precise.target}, {ctx.precise.config} configuration"
    bits = size_bits(ctype, ctx.abi.target)
    return bits, f"type table, {ctx.abi.target}"


class CheckRule(Rule):
    def check(self, ctx: Context) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, ctx: Context, severity: str | None = None, evidence: Iterable[str] = (), at_abi: bool = False,
                flow: Iterable[tuple[str, int, str]] = (), **args: object) -> Finding:
        if at_abi or ctx.op is None:
            file, line, in_tree = ctx.abi.path, (ctx.mapping.line if ctx.mapping else ctx.abi.line), False
        else:
            file, line, in_tree = ctx.op.file, ctx.op.line, True
        if ctx.op is not None:
            op = ctx.op.name
        else:
            assert ctx.mapping is not None      # a context without an op is a stale mapping's
            op = ctx.mapping.op
        args = {"op": op, "abi": ctx.abi.name, **args}
        return Finding(self.code, severity or self.severity, ctx.abi.name, op, file, line,
                       self.message, tuple(sorted(args.items())), tuple(evidence), in_tree, flow=tuple(flow))


def all_rules() -> list:
    """Every check, in code order: the RULE of each pvNNN_*.py module here."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("pv"))
    return [importlib.import_module(f"{__name__}.{n}").RULE for n in names]
