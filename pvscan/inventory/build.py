"""Per-file facts -> the operation inventory, by pure passes in data order.

    find_tables(facts)                          -> TableModel   (tables.py)
    find_call_sites(facts, tables)              -> Sites        (sites.py)
    find_implementations(facts, tables, map)    -> Fills        (implementations.py)
    find_static_calls(facts, map)               -> Statics      (statics.py)
    assemble(tables, sites, fills, statics)     -> Inventory    (here)

Each pass takes frozen values and returns frozen values; the only order
is the data's: call sites and implementations are resolved against the
tables, and nothing is invented for a member that no struct declares.
"""

from __future__ import annotations

import dataclasses

from pvscan.errors import Warning_
from pvscan.facts.model import FileFacts, Param
from pvscan.facts.preprocess import guard_expression
from pvscan.inventory.backends import NATIVE, BackendHomes, BackendMap
from pvscan.inventory.implementations import Fills, find_implementations
from pvscan.inventory.model import Generation, Inventory, Op, Table, Variant
from pvscan.inventory.sites import FORM_TABLE_OP, Sites, find_call_sites
from pvscan.inventory.statics import Statics, find_static_calls
from pvscan.inventory.tables import TableModel, find_tables


def build_inventory(facts: list[FileFacts], backend_map: BackendMap, homes: BackendHomes = BackendHomes()) -> Inventory:
    """homes: where each backend is built (from the tree's arch/*/ directories); by default, everywhere."""
    facts = sorted(facts, key=lambda f: f.path)
    tables = find_tables(facts)
    inventory = assemble(tables, find_call_sites(facts, tables),
                         find_implementations(facts, tables, backend_map, homes),
                         find_static_calls(facts, backend_map, homes))
    return dataclasses.replace(inventory, homes=homes.homes)


def assemble(tables: TableModel, sites: Sites, fills: Fills, statics: Statics | None = None) -> Inventory:
    if statics is not None:
        # A static call is an op like any other from here on: its sites and fills join the tables'.
        sites = Sites({**sites.call_sites, **statics.call_sites}, {**sites.wrappers, **statics.wrappers},
                      sites.warnings, sites.forms, sites.unplaced)
        fills = Fills({**fills.implementations, **statics.implementations}, fills.clears, fills.warnings)
    decls = tuple(tables.ops) + (statics.ops if statics is not None else ())
    arch_backends: dict = {}     # arch -> backends other than native that implement something
    backend_files: dict = {}     # (arch, backend) -> files
    for decl in decls:
        for i in fills.implementations.get(decl.key, ()):
            if i.backend != NATIVE:
                arch_backends.setdefault(decl.arch, set()).add(i.backend)
            backend_files.setdefault((decl.arch, i.backend), set()).add(i.file)
    ops = tuple(_op(decl, sites, fills, arch_backends.get(decl.arch, set()))
                for decl in sorted(decls, key=lambda d: d.key))
    backends = {k: tuple(sorted(v)) for k, v in sorted(backend_files.items())}
    blind = _unplaced(sites) + (statics.blind if statics is not None else ())
    warnings = tables.warnings + sites.warnings + fills.warnings + blind
    table_rows = _tables(tables, ops, sites.forms)
    return Inventory(table_rows, ops, backends, tuple(sorted(set(warnings))),
                     _generations(table_rows, ops, sites.forms), tuple(sorted(set(blind))))


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


def _tables(tables: TableModel, ops, forms: dict | None = None) -> tuple[Table, ...]:
    """One Table per root, with its generation: named where the architecture's PVOP_* uses name
    their table (7.x); else the unified root's, or split/single by how many roots with ops its
    architecture has; a data-only table (pv_info) takes its architecture's."""
    named = {arch for arch, found in (forms or {}).items() if FORM_TABLE_OP in found}
    ops_of: dict[tuple[str, str], list[Op]] = {}
    for o in ops:
        ops_of.setdefault((o.arch, o.table), []).append(o)
    roots = [tables.roots[k] for k in sorted(tables.roots)]
    with_ops: dict = {}
    for root in roots:
        if ops_of.get((root.arch, root.name)):
            with_ops[root.arch] = with_ops.get(root.arch, 0) + 1

    def own_generation(root):
        if root.arch in named:
            return "named"
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
            gen = arch_generation.get(root.arch) or own_generation(root)
        out.append(Table(root.name, root.type, root.arch, gen, root.file, root.line,
                         guard_expression(root.guard), tuple(sorted({o.group for o in root_ops})), len(root_ops),
                         root.definition))
    return tuple(out)


def _generations(tables: tuple[Table, ...], ops, forms: dict | None) -> tuple[Generation, ...]:
    """Each architecture's layout, from its tables with ops, its call forms and its static calls."""
    out = []
    arches = sorted({t.arch for t in tables if t.ops} | {o.arch for o in ops if o.convention == "static_call"})
    for arch in arches:
        with_ops = [t for t in tables if t.arch == arch and t.ops]
        statics = tuple(sorted(o.name for o in ops if o.arch == arch and o.convention == "static_call"))
        name = with_ops[0].generation if with_ops else "static calls only"
        out.append(Generation(arch, name, tuple(sorted(t.name for t in with_ops)),
                              tuple(sorted((forms or {}).get(arch, ()))), statics))
    return tuple(out)


def _unplaced(sites: Sites) -> tuple[Warning_, ...]:
    """The self-check: PVOP_* uses outside macro definitions that the scan could not place on an
    op. One warning, with the count and the first places, so that a call form pvscan does not
    know is never silently missed."""
    if not sites.unplaced:
        return ()
    first = sites.unplaced[0]
    places = ", ".join(f"{path}:{line} {macro}({args})" for path, line, macro, args in sites.unplaced[:3])
    return (Warning_(first[0], first[1], f"{len(sites.unplaced)} PVOP_* use(s) name no op this scan found "
                     f"(a call form or table pvscan cannot place): {places}"),)


def _signature_from_call_sites(sites):
    """A callee-save op declares no signature; its PVOP_*CALLEE* uses give one."""
    for c in sorted(sites, key=lambda c: (c.file, c.line)):
        if c.kind.startswith("PVOP_") and c.arity is not None:
            rettype = c.return_type if c.return_type is not None else "void"
            return rettype, tuple(Param("", None) for _ in range(c.arity)), "call_site"
    return None, None, None
