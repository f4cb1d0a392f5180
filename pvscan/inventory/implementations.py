"""Pass 3: what each backend puts in each op, and what it clears.

Backends fill ops three ways: a designated initializer of a table type
('static const typeof(pv_ops) xen_cpu_ops __initconst = { .cpu.cpuid =
xen_cpuid, ... }'), an assignment ('pv_ops.mmu.set_pte = xen_set_pte;'),
or a fill macro used in the same file (VMI's para_fill(opname, call)).
The native table's own initializer ('struct paravirt_patch_template
pv_ops = { ... }') gives the native implementations. A group copied whole
from an initializer ('pv_ops.mmu = xen_mmu_ops.mmu;') installs NULL in
every op that initializer does not name: a Clear, not the native default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.errors import Warning_
from pvscan.facts.ctext import closing_paren, outside_parens
from pvscan.facts.model import FileFacts, Initializer
from pvscan.facts.preprocess import guard_expression
from pvscan.inventory.backends import NATIVE, BackendHomes
from pvscan.inventory.model import Clear, Implementation
from pvscan.inventory.tables import merge_guards

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pvscan.inventory.tables import TableModel


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WRAPPER_MACRO = re.compile(r"([A-Z_][A-Z0-9_]*)\s*\((.*)\)", re.S)
_COPY_SOURCE = re.compile(r"\(?\s*([A-Za-z_][A-Za-z0-9_]*)((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*\)?")


@dataclass(frozen=True)
class Fills:
    """What the backends put into each op, and which ops a group copy leaves NULL."""

    implementations: dict        # op key -> tuple[Implementation], in the order found
    clears: dict                 # op key -> tuple[Clear]
    warnings: tuple[Warning_, ...]


@dataclass(frozen=True)
class _Fill:
    """One value a file puts in an op, before it is unwrapped."""

    op: object
    backend: str
    line: int
    value: str
    via: str
    guard: tuple


def find_implementations(facts: Sequence[FileFacts], model: TableModel, backend_map,
                         homes: BackendHomes = BackendHomes()) -> Fills:
    impls: dict = {}
    clears: dict = {}
    warnings: list[Warning_] = []
    initializers: dict[tuple[str | None, str], tuple[FileFacts, Initializer]] = {}
    for f in facts:
        for init in f.initializers:
            initializers.setdefault((f.path, init.name), (f, init))
            initializers.setdefault((None, init.name), (f, init))
    for f in facts:
        aliases = {a.name: a.value for a in f.aliases}
        backend = backend_map.backend_of(f.path)
        direct, copies = _assignments(f, model, backend, warnings)
        fills = [*_initializer_fills(f, model, backend, warnings), *direct, *_macro_fills(f, model, backend)]
        for fill in fills:
            if f.arch == "generic" and not homes.builds(fill.backend, fill.op.arch):
                continue       # a generic file of a backend that architecture has not
            function, wrapped = unwrap_value(fill.value, aliases)
            if function in ("NULL", "0"):
                clears.setdefault(fill.op.key, []).append(Clear(fill.backend, f.path, fill.line, fill.value))
            else:
                impls.setdefault(fill.op.key, []).append(Implementation(
                    fill.backend, f.path, fill.line, function, fill.via, wrapped, guard_expression(fill.guard)))
        for a in copies:
            for op_key, clear in _group_copy(f, a, model, backend, initializers, warnings):
                clears.setdefault(op_key, []).append(clear)
    return Fills({k: tuple(v) for k, v in impls.items()}, {k: tuple(v) for k, v in clears.items()},
                 tuple(warnings))


def _initializer_fills(f: FileFacts, model: TableModel, backend: str, warnings: list[Warning_]):
    for init in f.initializers:
        for op, line, value, guard, init_backend in _initializer(f, init, model, backend, warnings):
            yield _Fill(op, init_backend, line, value, "initializer", guard)


def _assignments(f: FileFacts, model: TableModel, backend: str, warnings: list[Warning_]):
    """([_Fill] of 'pv_ops.mmu.set_pte = xen_set_pte;', [the assignments that name no op: group copies?])."""
    fills, others = [], []
    for a in f.assignments:
        if a.macro_params is not None:
            continue
        ops = model.resolve(f.arch, a.root, a.path)
        fills += [_Fill(op, backend, a.line, a.value, "assignment", a.guard) for op in ops]
        if not ops:
            others.append(a)
    return fills, others


def _macro_fills(f: FileFacts, model: TableModel, backend: str):
    """Uses of the file's own fill macros: VMI's 'para_fill(pv_cpu_ops.cpuid, CPUID);'."""
    fill_macros = {m.name: m for m in f.fill_macros}
    for mc in f.macro_calls:
        macro = fill_macros.get(mc.macro)
        if macro is None or macro.target_param >= len(mc.args):
            continue
        target = mc.args[macro.target_param]
        ops = model.resolve_text(f.arch, f"{macro.target_root}.{target}" if macro.target_root else target)
        if macro.value_param is not None and macro.value_param < len(mc.args):
            value = mc.args[macro.value_param]
        else:
            value = f"{mc.macro}({', '.join(mc.args)})"
        for op in ops:
            yield _Fill(op, backend, mc.line, value, f"macro {mc.macro}", mc.guard)


def initializer_root(f: FileFacts, init, model: TableModel, warnings: list[Warning_]):
    """(root, path prefix) an initializer's designators start from, or (None, None)."""
    arch = f.arch
    if init.via_typeof:
        root = model.roots.get((arch, init.type_name))
        return (root, ()) if root else (None, None)
    direct = model.roots.get((arch, init.type_name))
    if direct is not None and direct.type == init.type_name:
        return direct, ()
    for (a, _name), root in sorted(model.roots.items()):
        if a == arch and root.type == init.type_name:
            return root, ()
    paths = model.type_paths.get((arch, init.type_name), ())
    if len(paths) == 1:
        root_name, prefix = paths[0]
        return model.roots[(arch, root_name)], prefix
    if len(paths) > 1:
        warnings.append(Warning_(f.path, init.line, f"initializer {init.name}: struct {init.type_name} sits at "
                                 "several places in the tables; not attributed"))
    return None, None


def _initializer(f: FileFacts, init, model: TableModel, backend: str, warnings: list[Warning_]):
    """(op, line, value, guard, backend) of each entry of an initializer that names an op."""
    root, prefix = initializer_root(f, init, model, warnings)
    if root is None:
        return
    # The table's own definition ('struct paravirt_patch_template pv_ops = {...}') is the native one.
    native = init.name == root.name and not init.via_typeof and init.storage != "static"
    for e in init.entries:
        path = prefix + e.path
        op = model.by_path.get((root.arch, root.name, path))
        if op is None:
            if (root.arch, root.name, path) not in model.data_members:
                warnings.append(Warning_(f.path, e.line, f"initializer {init.name}: .{'.'.join(e.path)} is not a "
                                         f"member of {root.name}"))
            continue
        yield op, e.line, e.value, merge_guards(init.guard, e.guard), NATIVE if native else backend


def _group_copy(f: FileFacts, a, model: TableModel, backend: str, initializers, warnings: list[Warning_]):
    """(op key, Clear) for each op that 'pv_ops.mmu = xen_mmu_ops.mmu;' leaves NULL."""
    root = model.roots.get((f.arch, a.root))
    if root is None:
        return
    if a.path and (f.arch, a.root, a.path) not in model.groups:
        return   # a data member (pv_info.name) or nothing we know
    source = a.value.strip()
    m = _COPY_SOURCE.fullmatch(source)
    if not m:
        warnings.append(Warning_(f.path, a.line, f"copy of {a.root}{''.join('.' + p for p in a.path)} from "
                                 f"{source!r}: source not understood"))
        return
    var = m.group(1)
    sub = tuple(p.strip() for p in m.group(2).split(".") if p.strip())
    hit = initializers.get((f.path, var)) or initializers.get((None, var))
    if hit is None:
        warnings.append(Warning_(f.path, a.line, f"copy from {var}: no initializer of that name among the "
                                 "scanned files"))
        return
    src_file, init = hit
    src_root, src_prefix = initializer_root(src_file, init, model, warnings)
    if src_root is None:
        return
    named = {src_prefix + e.path for e in init.entries}
    for (arch, rname, path), op in model.by_path.items():
        if arch != root.arch or rname != root.name or path[:len(a.path)] != a.path:
            continue
        rel = op.path[len(a.path):]
        src_path = (src_prefix + sub + rel) if src_root.name == root.name else src_prefix + rel
        if src_path not in named:
            yield op.key, Clear(backend, f.path, a.line, source)


def unwrap_value(value: str, aliases: dict) -> tuple[str, tuple[str, ...]]:
    """The function an op value names, and the macros wrapped around it.

    'PV_CALLEE_SAVE(xen_make_pte)' -> ('xen_make_pte', ('PV_CALLEE_SAVE',));
    '&xen_write_cr3' -> 'xen_write_cr3'; '(void (*)(struct mmu_gather *, void *))tlb_remove_page'
    -> 'tlb_remove_page'; a same-file alias such as PTE_IDENT is expanded.
    Anything else is returned as its text.
    """
    wrapped = []
    v = value.strip()
    for _ in range(16):
        if _IDENT.fullmatch(v):
            if v in aliases and aliases[v] != v and v not in wrapped:
                wrapped.append(v)
                v = aliases[v].strip()
                continue
            return v, tuple(wrapped)
        if v.startswith("&"):
            v = v[1:].strip()
            continue
        if v.startswith("("):
            close = closing_paren(v, 0)
            if close == len(v) - 1:
                v = v[1:-1].strip()
                continue
            rest = v[close + 1:].strip()
            inner = v[1:close]
            if close > 0 and rest and re.fullmatch(r"[\w\s\*\(\),\[\]]+", inner) and _IDENT.match(inner.strip()):
                v = rest
                continue
            break
        m = _WRAPPER_MACRO.fullmatch(v)
        if m and closing_paren(v, m.start(2) - 1) == len(v) - 1 and "," not in outside_parens(m.group(2)):
            wrapped.append(m.group(1))
            v = m.group(2).strip()
            continue
        break
    return v, tuple(wrapped)
