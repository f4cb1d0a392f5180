"""Stage 4: the inventory against declared ABIs -> findings and coverage.

For each ABI, every op of its architecture meets its mapping (or none),
every mapping its op (or none), and each rule looks at the pair.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.checks.rules import Context, all_rules
from pvscan.facts.guards import evaluate
from pvscan.identity import OpIndex, ops_for_arch, same_arch

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pvscan.abi import Abi, Mapping
    from pvscan.inventory.model import Inventory
    from pvscan.source import Source
    from pvscan.source.directory import KernelTree


COVERAGE_KINDS = ("mapped", "constrained", "unmapped", "native", "trap", "unsupported")
# Rules whose findings mean the mapping exists but the ABI constrains the op.
CONSTRAINING = frozenset(rule.code for rule in all_rules() if rule.constrains)


@dataclass(frozen=True)
class CheckResult:
    """The findings of one check run, with each ABI's coverage of the ops."""

    findings: tuple                 # sorted Finding
    coverage: dict                  # abi -> {group -> {kind: count}}
    abis: tuple                     # the Abi objects, in the order given
    # (abi, arch, op) -> coverage kind, or "excluded" (outside its config)
    op_kinds: dict[tuple[str, str, str], str] = field(default_factory=dict)


def check(inventory: Inventory, abis: Sequence[Abi], glue=None, precise=None, version=None) -> CheckResult:
    """glue: {(backend, arch): {op name: [Reach]}} from pvscan.checks.glue.derive, when traced;
    precise: {target: precise.PreciseSizes}, in precise mode; version: the tree's KernelVersion."""
    version = (version.version, version.patchlevel, version.sublevel) if version is not None else None
    rules = [r() for r in all_rules()]
    findings = []
    coverage = {}
    op_kinds = {}
    for abi in abis:
        index = OpIndex(ops_for_arch(inventory.ops, abi.arch, inventory.homes))
        ops = index.by_name
        mapping_of, stale = chosen_mappings(abi, index, version)
        # The backends the ABI's architecture has: its own, and those that install a generic op
        # (7.x's pv_steal_clock) from its files or from generic ones it builds.
        present = frozenset(b for (arch, b) in inventory.backends if same_arch(arch, abi.arch)) | {
            i.backend for o in ops.values() if o.arch == "generic" for i in o.implementations}
        per_group: defaultdict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COVERAGE_KINDS, 0))
        for name in sorted(ops):
            op = ops[name]
            exists, missing = evaluate(op.guard, abi.config)
            reaches = None
            if glue is not None and (abi.backend, abi.arch) in glue:
                reaches = tuple(glue[abi.backend, abi.arch].get(name, ()))
            witness = None
            if abi.backend and abi.backend in present:
                witness = tuple(i for i in op.implementations if i.backend == abi.backend)
            mapping, elsewhere = mapping_of.get(name), None
            if mapping is not None and version is not None and mapping.covers(version) is False:
                # Written for other kernels: it never applies to this one (docs/check.md).
                mapping, elsewhere = None, mapping
            ctx = Context(abi, op, mapping, exists, missing, present, reaches,
                          (precise or {}).get(abi.target), witness, version, elsewhere)
            got = [f for r in rules for f in r.check(ctx)]
            findings.extend(got)
            if exists is False and ctx.mapping is None:
                op_kinds[(abi.name, op.arch, op.name)] = "excluded"
                continue   # outside the ABI's configuration: not its business
            kind = ctx.mapping.to if ctx.mapping is not None else "native" if ctx.witnessed_native else "unmapped"
            if kind in ("hypercall", "shared"):   # carried by the hypervisor's interface
                kind = "constrained" if any(f.code in CONSTRAINING for f in got) else "mapped"
            per_group[op.group][kind] += 1
            op_kinds[(abi.name, op.arch, op.name)] = kind
        for m in stale:
            ctx = Context(abi, None, m, None, set(), present, version=version)
            findings.extend(f for r in rules for f in r.check(ctx))
        coverage[abi.name] = {g: dict(c) for g, c in sorted(per_group.items())}
    findings.sort(key=lambda f: f.sort_key())
    return CheckResult(tuple(findings), coverage, tuple(abis), op_kinds)


_HOW_ORDER = ("name", "generation", "member", "renamed")


def chosen_mappings(abi: Abi, index: OpIndex, version: tuple[int, ...] | None
                    ) -> tuple[dict[str, Mapping], list[Mapping]]:
    """({op name: the mapping that stands for it}, [mappings that reach no op of index]) of one
    ABI over an OpIndex of the tree's ops; version: (major, minor, sub) of the tree, or None."""
    mapping_of: dict[str, Mapping] = {}
    how_of: dict[str, str | None] = {}
    stale: list[Mapping] = []
    for m in abi.mappings:
        op, how = index.find(m.op)
        if op is None:
            stale.append(m)
        elif op.name not in mapping_of or _better(m, how, mapping_of[op.name], how_of[op.name], version):
            mapping_of[op.name], how_of[op.name] = m, how
    return mapping_of, stale


def _better(m: Mapping, how: str | None, than: Mapping, than_how: str | None, version: tuple[int, ...] | None) -> bool:
    """Whether mapping m should stand for an op rather than than, when both reach it: the one
    whose kernels hold the tree's version, then one that states none, then the one whose name
    is closer (two names reach one op through renaming)."""
    return _rank(m, how, version) < _rank(than, than_how, version)


def _rank(m: Mapping, how: str | None, version: tuple[int, ...] | None) -> tuple[int, int]:
    covers = m.covers(version) if version is not None else None
    return ({True: 0, None: 1, False: 2}[covers], _HOW_ORDER.index(how))


def _directory(tree: Source, what: str) -> KernelTree:
    """The tree as a directory: what reads its files by path (the glue's includes, libclang)
    cannot read a git revision's objects."""
    from pvscan.errors import PvscanError
    from pvscan.source.directory import KernelTree

    if not isinstance(tree, KernelTree):
        raise PvscanError(f"{what} reads a tree's directory, not a git revision", tree.display)
    return tree


def check_tree(tree: Source, inventory: Inventory, abis: Sequence[Abi], trace_glue: bool = False, precise: bool = False,
               config: str | None = None, version=None) -> tuple[CheckResult, list[str]]:
    """check() with what it can draw from the tree itself: each ABI's configuration completed
    from the tree's Kconfig and its target's headers (checks.target), each ABI backend's glue traced to
    hypercalls (trace_glue), libclang's type sizes (precise, with a .config); and the lines
    to tell the user about the first and the last."""
    from pvscan.checks.target import complete_config
    from pvscan.kconfig import LazyGuardLogic

    completed, notes = [], []
    kconfig = LazyGuardLogic(tree)
    for abi in abis:
        abi, said = complete_config(tree, inventory.ops, abi, kconfig)
        completed.append(abi)
        notes.extend(said)
    notes.extend(kconfig.problems)
    abis = completed
    glue = None
    if trace_glue:
        from pvscan.checks.glue import derive

        config_of: dict[tuple[str, str], dict[str, bool | int | frozenset[int]]] = {}
        for a in abis:
            if a.backend:
                config_of.setdefault((a.backend, a.arch), a.config)
        directory = _directory(tree, "tracing the glue (--trace-glue)")
        glue = {key: derive(directory, inventory, key[0], config_of[key], arch=key[1])[0] for key in sorted(config_of)}
    sizes = None
    if precise:
        from pvscan.checks.precise import sizes_for_abis

        sizes, precise_notes = sizes_for_abis(_directory(tree, "libclang's sizes (--precise)"), inventory, abis, config)
        notes.extend(precise_notes)
    from pvscan.checks.areas import area_findings

    result = check(inventory, abis, glue, sizes, version)
    shared = area_findings(tree, abis, version, precise=sizes)
    if sizes:
        from pvscan.checks.areas import precise_disagreements, version_number

        notes.extend(precise_disagreements(tree, abis, version_number(version), sizes))
    if shared:
        result = dataclasses.replace(result, findings=tuple(sorted(result.findings + tuple(shared),
                                                                   key=lambda f: f.sort_key())))
    return result, notes
