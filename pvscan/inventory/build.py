"""Per-file facts -> the operation inventory, by pure passes in data order.

    find_tables(facts)                          -> TableModel   (tables.py)
    find_call_sites(facts, tables)              -> Sites        (sites.py)
    find_implementations(facts, tables, map)    -> Fills        (implementations.py)
    assemble(tables, sites, fills)              -> Inventory    (here)

Each pass takes frozen values and returns frozen values; the only order
is the data's: call sites and implementations are resolved against the
tables, and nothing is invented for a member that no struct declares.
"""

from __future__ import annotations

from pvscan.facts.model import FileFacts, Param
from pvscan.facts.preprocess import guard_expression
from pvscan.inventory.backends import NATIVE, BackendMap
from pvscan.inventory.implementations import Fills, find_implementations
from pvscan.inventory.model import Inventory, Op, Table, Variant
from pvscan.inventory.sites import Sites, find_call_sites
from pvscan.inventory.tables import TableModel, find_tables


def build_inventory(facts: list[FileFacts], backend_map: BackendMap) -> Inventory:
    facts = sorted(facts, key=lambda f: f.path)
    tables = find_tables(facts)
    return assemble(tables, find_call_sites(facts, tables), find_implementations(facts, tables, backend_map))


def assemble(tables: TableModel, sites: Sites, fills: Fills) -> Inventory:
    arch_backends: dict = {}     # arch -> backends other than native that implement something
    backend_files: dict = {}     # (arch, backend) -> files
    for decl in tables.ops:
        for i in fills.implementations.get(decl.key, ()):
            if i.backend != NATIVE:
                arch_backends.setdefault(decl.arch, set()).add(i.backend)
            backend_files.setdefault((decl.arch, i.backend), set()).add(i.file)
    ops = tuple(_op(decl, sites, fills, arch_backends.get(decl.arch, set()))
                for decl in sorted(tables.ops, key=lambda d: d.key))
    backends = {k: tuple(sorted(v)) for k, v in sorted(backend_files.items())}
    warnings = tables.warnings + sites.warnings + fills.warnings
    return Inventory(_tables(tables, ops), ops, backends, tuple(sorted(set(warnings))))


def _op(decl, sites: Sites, fills: Fills, arch_backends: set) -> Op:
    call_sites = sites.call_sites.get(decl.key, ())
    rettype, params, source = decl.return_type, decl.params, decl.signature_source
    if decl.convention == "callee_save":
        rettype, params, source = _signature_from_call_sites(call_sites)
    impls = sorted(set(fills.implementations.get(decl.key, ())),
                   key=lambda i: (i.backend, i.file, i.line, i.function))
    implementing = {i.backend for i in impls}
    # A backend that implements an op does not also clear it.
    clears = sorted({c for c in fills.clears.get(decl.key, ()) if c.backend not in implementing},
                    key=lambda c: (c.backend, c.file, c.line))
    leaves = tuple(sorted(arch_backends - implementing - {c.backend for c in clears}))
    return Op(
        name=decl.name, arch=decl.arch, table=decl.table, group=decl.group,
        return_type=rettype, params=params, convention=decl.convention,
        signature_source=source, guard=guard_expression(decl.guard), file=decl.file, line=decl.line,
        comment=decl.comment,
        call_sites=tuple(sorted(set(call_sites), key=lambda c: (c.file, c.line, c.kind))),
        wrappers=sites.wrappers.get(decl.key, ()), implementations=tuple(impls), cleared_by=tuple(clears),
        leaves_native=leaves,
        variants=tuple(Variant(guard_expression(g), r, p, line) for g, r, p, line in decl.variants),
    )


def _tables(tables: TableModel, ops) -> tuple[Table, ...]:
    """One Table per root, with its generation: the unified root's, or split/single by how many
    roots with ops its architecture has; a data-only table (pv_info) takes its architecture's."""
    ops_of = {}
    for o in ops:
        ops_of.setdefault((o.arch, o.table), []).append(o)
    roots = [tables.roots[k] for k in sorted(tables.roots)]
    with_ops: dict = {}
    for root in roots:
        if ops_of.get((root.arch, root.name)):
            with_ops[root.arch] = with_ops.get(root.arch, 0) + 1

    def own_generation(root):
        if root.unified:
            return "unified"
        return "split" if with_ops.get(root.arch, 0) > 1 else "single"

    arch_generation = {root.arch: own_generation(root) for root in roots if ops_of.get((root.arch, root.name))}
    out = []
    for root in roots:
        root_ops = ops_of.get((root.arch, root.name), [])
        if root_ops:
            gen = own_generation(root)
        else:
            gen = ("unified" if root.unified else None) or arch_generation.get(root.arch) or own_generation(root)
        out.append(Table(root.name, root.type, root.arch, gen, root.file, root.line,
                         guard_expression(root.guard), tuple(sorted({o.group for o in root_ops})), len(root_ops),
                         root.definition))
    return tuple(out)


def _signature_from_call_sites(sites):
    """A callee-save op declares no signature; its PVOP_*CALLEE* uses give one."""
    for c in sorted(sites, key=lambda c: (c.file, c.line)):
        if c.kind.startswith("PVOP_") and c.arity is not None:
            rettype = c.return_type if c.return_type is not None else "void"
            return rettype, tuple(Param("", None) for _ in range(c.arity)), "call_site"
    return None, None, None
