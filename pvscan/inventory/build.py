"""Stage 3: per-file facts -> the operation inventory.

Discovery, in the order the kernel's own declarations give it:

1. roots: non-static globals whose name follows the table convention
   (naming.TABLE_NAME) and whose type is a struct: 'pv_ops',
   'pv_mmu_ops', 'paravirt_ops' ...;
2. ops: walking each root's struct, every function-pointer member and every
   'struct paravirt_callee_save' member is an op; a member whose struct
   type holds ops is a group (or a sub-group, like mmu.lazy_mode);
3. call sites, wrappers, implementations: the facts that name a root (or a
   PVOP_* macro argument) resolve to an op, or are dropped: nothing is
   invented for a member that no struct declares.

Names: in the unified generation (a root whose members are all groups,
'struct paravirt_patch_template pv_ops', 4.20 on) an op is named by its
member path ('mmu.set_pte'), as PVOP_* macros name it; otherwise by the
root and the path ('pv_mmu_ops.set_pte', 'paravirt_ops.set_pte').
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from pvscan.errors import Warning_
from pvscan.facts.ctext import closing_paren, outside_parens
from pvscan.facts.model import FileFacts, Param
from pvscan.facts.preprocess import guard_expression
from pvscan.inventory.backends import NATIVE, BackendMap
from pvscan.inventory.model import (
    CallSite,
    Clear,
    Implementation,
    Inventory,
    Op,
    Table,
    Wrapper,
)
from pvscan.naming import CALLEE_SAVE_STRUCT, PVOP_MACRO_RE, TABLE_NAME_RE

# -- building ---------------------------------------------------------------------


@dataclass
class _OpDraft:
    name: str
    arch: str
    table: str
    group: str
    path: tuple[str, ...]
    return_type: str | None
    params: tuple | None
    convention: str
    signature_source: str | None
    guard: tuple
    file: str
    line: int
    comment: str | None
    call_sites: list = field(default_factory=list)
    implementations: list = field(default_factory=list)
    clears: list = field(default_factory=list)


@dataclass
class _Root:
    name: str
    type: str
    arch: str
    file: str
    line: int
    guard: tuple
    unified: bool = False


class _Builder:
    def __init__(self, facts: list[FileFacts], backend_map: BackendMap):
        self.facts = sorted(facts, key=lambda f: f.path)
        self.backend_map = backend_map
        self.warnings: list[Warning_] = []
        self.structs: dict[tuple[str, str], tuple] = {}     # (arch, name) -> (StructDef, file)
        self.roots: dict[tuple[str, str], _Root] = {}        # (arch, instance) -> root
        self.ops: dict[tuple[str, str], _OpDraft] = {}       # (arch, name) -> op
        self.by_path: dict[tuple[str, str, tuple], _OpDraft] = {}  # (arch, root, path) -> op
        self.groups: dict[tuple[str, str, tuple], str] = {}  # (arch, root, path) -> struct tag
        self.data_members: set[tuple[str, str, tuple]] = set()
        self.type_paths: dict[tuple[str, str], list] = defaultdict(list)  # (arch, tag) -> [(root, path)]
        self.wrappers: dict[tuple[str, str, str], Wrapper] = {}
        self.op_wrappers: dict[tuple[str, str], set] = defaultdict(set)
        self.duplicates: dict[tuple[str, str], list] = defaultdict(list)

    def warn(self, path, line, message):
        self.warnings.append(Warning_(path, line, message))

    # 1. structs and roots

    def collect(self):
        for f in self.facts:
            for line, msg in f.warnings:
                self.warn(f.path, line, msg)
            for s in f.structs:
                key = (f.arch, s.name)
                if key in self.structs:
                    other, other_file = self.structs[key]
                    if [m.name for m in other.members] != [m.name for m in s.members] and s.members:
                        self.duplicates[key].append((f.path, s.line))
                    continue
                self.structs[key] = (s, f.path)
        for f in self.facts:
            decls = [(g.name, g.type_name, g.via_typeof, g.storage, g.line, g.guard) for g in f.globals]
            decls += [(i.name, i.type_name, i.via_typeof, i.storage, i.line, i.guard) for i in f.initializers]
            for name, type_name, via_typeof, storage, line, guard in decls:
                if via_typeof or storage == "static" or not TABLE_NAME_RE.match(name):
                    continue
                if self.struct(f.arch, type_name) is None:
                    continue
                arch = f.arch if f.arch != "generic" else self._struct_arch(type_name)
                key = (arch, name)
                root = self.roots.get(key)
                # Prefer the declaration in a header (where the type lives) for the location.
                if root is None or (root.file.endswith(".c") and f.path.endswith(".h")):
                    self.roots[key] = _Root(name, type_name, arch, f.path, line, guard)

    def _struct_arch(self, tag):
        arches = sorted(a for (a, n) in self.structs if n == tag)
        return arches[0] if arches else "generic"

    def struct(self, arch, tag):
        hit = self.structs.get((arch, tag)) or self.structs.get(("generic", tag))
        return hit

    # 2. ops

    def enumerate_ops(self):
        for key in sorted(self.roots):
            root = self.roots[key]
            s, _ = self.struct(root.arch, root.type)
            direct_ops = any(m.kind == "fnptr" or (m.kind == "struct" and m.type == CALLEE_SAVE_STRUCT)
                             for m in s.members)
            has_groups = any(m.kind == "struct" and self._holds_ops(root.arch, m.type, set())
                             for m in s.members)
            root.unified = has_groups and not direct_ops
            # The op's guard is the #if nesting around its member and the structs on
            # its path; the root instance's own declaration is not part of it.
            self._walk(root, root.type, (), (), None, set())

    def _holds_ops(self, arch, tag, seen):
        if tag == CALLEE_SAVE_STRUCT or tag in seen:
            return tag == CALLEE_SAVE_STRUCT
        hit = self.struct(arch, tag)
        if hit is None:
            return False
        seen = seen | {tag}
        for m in hit[0].members:
            if m.kind == "fnptr":
                return True
            if m.kind == "struct" and self._holds_ops(arch, m.type, seen):
                return True
        return False

    def _walk(self, root, tag, prefix, guard, group, seen):
        s, file = self.struct(root.arch, tag)
        for dup_file, dup_line in self.duplicates.pop((root.arch, tag), ()):
            self.warn(dup_file, dup_line, f"struct {tag} also defined in {file}:{s.line} with other "
                      "members; using that one")
        self.type_paths[(root.arch, tag)].append((root.name, prefix))
        struct_guard = guard + s.guard
        for m in s.members:
            path = prefix + (m.name,)
            g = _merge(struct_guard, m.guard)
            grp = group or (m.name if root.unified else root.name)
            if m.kind == "fnptr":
                self._add_op(root, path, grp, m.type, m.params, "plain", "declaration", g, file, m)
            elif m.kind == "struct" and m.type == CALLEE_SAVE_STRUCT:
                self._add_op(root, path, grp, None, None, "callee_save", None, g, file, m)
            elif m.kind == "struct" and m.type not in seen and self._holds_ops(root.arch, m.type, set()):
                self.groups[(root.arch, root.name, path)] = m.type
                self._walk(root, m.type, path, g, grp, seen | {tag})
            else:
                self.data_members.add((root.arch, root.name, path))

    def _add_op(self, root, path, group, rettype, params, convention, source, guard, file, m):
        name = ".".join(path) if root.unified else ".".join((root.name,) + path)
        key = (root.arch, name)
        if key in self.ops:
            self.warn(file, m.line, f"op {name} declared twice; keeping {self.ops[key].file}:{self.ops[key].line}")
            return
        op = _OpDraft(name, root.arch, root.name, group, path, rettype, params, convention, source,
                      guard, file, m.line, m.comment)
        self.ops[key] = op
        self.by_path[(root.arch, root.name, path)] = op

    # resolution

    def resolve_text(self, arch, text):
        """An op reference as PVOP_* macros write it: 'mmu.set_pte', 'pv_mmu_ops.set_pte'."""
        parts = [p.strip() for p in text.split(".")]
        if not parts or not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) for p in parts):
            return None
        return self.resolve(arch, parts[0], tuple(parts[1:]), allow_unified=True)

    def resolve(self, arch, root_name, path, allow_unified=False, file=None, line=None):
        """(arch, root, path) -> op, trying the file's arch and, for generic files, every arch."""
        arches = [arch] if arch != "generic" else sorted({a for (a, _) in self.roots})
        hits = []
        for a in arches:
            op = self._resolve_in(a, root_name, path, allow_unified)
            if op is not None:
                hits.append(op)
        if len(hits) > 1:
            if file:
                self.warn(file, line or 0, f"{root_name}.{'.'.join(path)} names an op in several "
                          f"architectures ({', '.join(o.arch for o in hits)}); not attributed")
            return None
        return hits[0] if hits else None

    def _resolve_in(self, arch, root_name, path, allow_unified):
        if (arch, root_name) in self.roots:
            op = self.by_path.get((arch, root_name, path))
            if op is None and path and path[-1] == "func":
                op = self.by_path.get((arch, root_name, path[:-1]))
                if op is not None and op.convention != "callee_save":
                    op = None
            return op
        if allow_unified:
            for (a, name), root in self.roots.items():
                if a == arch and root.unified:
                    return self._resolve_in(arch, name, (root_name,) + path, False)
        return None

    # 3a. call sites

    def call_sites(self):
        for f in self.facts:
            for mc in f.macro_calls:
                m = PVOP_MACRO_RE.match(mc.macro)
                if not m:
                    continue
                alt, void, _callee, arity = bool(m.group(1)), bool(m.group(2)), m.group(3), int(m.group(4))
                args = list(mc.args)
                rettype = None
                if not void:
                    if not args:
                        continue
                    rettype = args.pop(0)
                if not args:
                    continue
                op_text = args.pop(0)
                replacement = condition = None
                if alt:
                    if len(args) < 2:
                        self.warn(f.path, mc.line, f"{mc.macro} without its replacement and condition")
                        continue
                    replacement, condition = args[-2], args[-1]
                    args = args[:-2]
                op = self.resolve_text(f.arch, op_text)
                if op is None:
                    continue   # the macro's own definitions ('op'), or a table we do not know
                if len(args) != arity:
                    self.warn(f.path, mc.line, f"{mc.macro} passes {len(args)} arguments to {op.name}")
                op.call_sites.append(CallSite(f.path, mc.line, mc.macro, arity, rettype, replacement,
                                              condition, mc.function, mc.function_kind,
                                              guard_expression(mc.guard)))
                self._note_wrapper(f, op, mc.function, mc.function_kind, mc.line)
            for r in f.references:
                op = self.resolve(f.arch, r.root, r.path, file=f.path, line=r.line)
                if op is None:
                    continue
                op.call_sites.append(CallSite(f.path, r.line, r.kind, None, None, None, None,
                                              r.function, r.function_kind, guard_expression(r.guard)))
                if r.kind in ("call", "asm"):
                    self._note_wrapper(f, op, r.function, r.function_kind, r.line)

    def _note_wrapper(self, f, op, name, kind, line):
        if not name or kind == "file":
            return
        # The definition holding the call: the nearest one of that name above it
        # (a header may define the name again for another configuration).
        def_line = max((fl for fn, fl in f.functions if fn == name and fl <= line), default=line)
        key = (op.arch, name, f.path)
        if key not in self.wrappers:
            if kind == "macro":
                def_line = min((mc.line for mc in f.macro_calls if mc.function == name), default=line)
                def_line = min([def_line] + [r.line for r in f.references if r.function == name])
            self.wrappers[key] = Wrapper(name, kind, f.path, def_line)
        self.op_wrappers[(op.arch, op.name)].add(key)

    # 3b. implementations

    def implementations(self):
        initializers = {}
        for f in self.facts:
            for init in f.initializers:
                initializers.setdefault((f.path, init.name), (f, init))
                initializers.setdefault((None, init.name), (f, init))
        for f in self.facts:
            aliases = {a.name: a.value for a in f.aliases}
            for init in f.initializers:
                self._initializer(f, init, aliases)
            for a in f.assignments:
                if a.macro_params is not None:
                    continue
                self._assignment(f, a, aliases, initializers)
            fills = {m.name: m for m in f.fill_macros}
            for mc in f.macro_calls:
                fill = fills.get(mc.macro)
                if fill is not None:
                    self._fill(f, fill, mc, aliases)

    def _initializer_root(self, f, init):
        """(root, path prefix) an initializer's designators start from."""
        arch = f.arch
        if init.via_typeof:
            root = self.roots.get((arch, init.type_name))
            return (root, ()) if root else (None, None)
        direct = self.roots.get((arch, init.type_name))
        if direct is not None and direct.type == init.type_name:
            return direct, ()
        for (a, name), root in sorted(self.roots.items()):
            if a == arch and root.type == init.type_name:
                return root, ()
        paths = self.type_paths.get((arch, init.type_name), [])
        if len(paths) == 1:
            root_name, prefix = paths[0]
            return self.roots[(arch, root_name)], prefix
        if len(paths) > 1:
            self.warn(f.path, init.line, f"initializer {init.name}: struct {init.type_name} sits at several "
                      "places in the tables; not attributed")
        return None, None

    def _backend(self, path):
        return self.backend_map.backend_of(path)

    def _initializer(self, f, init, aliases):
        root, prefix = self._initializer_root(f, init)
        if root is None:
            return
        native = (init.name == root.name and not init.via_typeof and init.storage != "static")
        backend = NATIVE if native else self._backend(f.path)
        for e in init.entries:
            path = prefix + e.path
            op = self.by_path.get((root.arch, root.name, path))
            if op is None:
                if (root.arch, root.name, path) not in self.data_members:
                    self.warn(f.path, e.line, f"initializer {init.name}: .{'.'.join(e.path)} is not a member "
                              f"of {root.name}")
                continue
            self._implement(op, backend, f.path, e.line, e.value, "initializer", aliases,
                            _merge(init.guard, e.guard))

    def _implement(self, op, backend, file, line, value, via, aliases, guard, copied_by=()):
        function, wrapped = unwrap_value(value, aliases)
        if function in ("NULL", "0"):
            op.clears.append(Clear(backend, file, line, value))
            return
        op.implementations.append(Implementation(backend, file, line, function, via, wrapped,
                                                 guard_expression(guard), copied_by))

    def _assignment(self, f, a, aliases, initializers):
        op = self.resolve(f.arch, a.root, a.path, file=f.path, line=a.line)
        if op is not None:
            self._implement(op, self._backend(f.path), f.path, a.line, a.value, "assignment", aliases, a.guard)
            return
        arch = f.arch
        root = self.roots.get((arch, a.root))
        if root is None:
            return
        if a.path and (arch, a.root, a.path) not in self.groups:
            return   # a data member (pv_info.name) or nothing we know
        self._group_copy(f, a, root, initializers)

    def _group_copy(self, f, a, root, initializers):
        """'pv_ops.mmu = xen_mmu_ops.mmu;': ops the source does not name become NULL."""
        source = a.value.strip()
        m = re.fullmatch(r"\(?\s*([A-Za-z_][A-Za-z0-9_]*)((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*\)?", source)
        if not m:
            self.warn(f.path, a.line, f"copy of {a.root}{''.join('.' + p for p in a.path)} from {source!r}: "
                      "source not understood")
            return
        var = m.group(1)
        sub = tuple(p.strip() for p in m.group(2).split(".") if p.strip())
        hit = initializers.get((f.path, var)) or initializers.get((None, var))
        if hit is None:
            self.warn(f.path, a.line, f"copy from {var}: no initializer of that name among the scanned files")
            return
        src_file, init = hit
        src_root, src_prefix = self._initializer_root(src_file, init)
        if src_root is None:
            return
        named = {src_prefix + e.path for e in init.entries}
        backend = self._backend(f.path)
        group_ops = [op for (arch, rname, path), op in self.by_path.items()
                     if arch == root.arch and rname == root.name and path[:len(a.path)] == a.path]
        for op in group_ops:
            rel = op.path[len(a.path):]
            src_path = (src_prefix + sub + rel) if src_root.name == root.name else None
            if src_path is None:
                src_path = src_prefix + rel
            if src_path in named:
                continue
            op.clears.append(Clear(backend, f.path, a.line, source))

    def _fill(self, f, fill, mc, aliases):
        if fill.target_param >= len(mc.args):
            return
        target = mc.args[fill.target_param]
        text = f"{fill.target_root}.{target}" if fill.target_root else target
        op = self.resolve_text(f.arch, text)
        if op is None:
            return
        if fill.value_param is not None and fill.value_param < len(mc.args):
            value = mc.args[fill.value_param]
        else:
            value = f"{mc.macro}({', '.join(mc.args)})"
        self._implement(op, self._backend(f.path), f.path, mc.line, value, f"macro {mc.macro}",
                        aliases, mc.guard)

    # 4. freeze

    def freeze(self) -> Inventory:
        ops = []
        arch_backends = defaultdict(set)
        backend_files = defaultdict(set)
        for op in self.ops.values():
            for i in op.implementations:
                if i.backend != NATIVE:
                    arch_backends[op.arch].add(i.backend)
                backend_files[(op.arch, i.backend)].add(i.file)
        for key in sorted(self.ops):
            op = self.ops[key]
            rettype, params, source = op.return_type, op.params, op.signature_source
            if op.convention == "callee_save":
                rettype, params, source = _signature_from_call_sites(op.call_sites)
            impls = sorted(set(op.implementations), key=lambda i: (i.backend, i.file, i.line, i.function))
            implementing = {i.backend for i in impls}
            clears = sorted({c for c in op.clears if c.backend not in implementing},
                            key=lambda c: (c.backend, c.file, c.line))
            cleared = {c.backend for c in clears}
            leaves = tuple(sorted(arch_backends[op.arch] - implementing - cleared))
            wrappers = sorted((self.wrappers[k] for k in self.op_wrappers[(op.arch, op.name)]),
                              key=lambda w: (w.name, w.file, w.line))
            ops.append(Op(
                name=op.name, arch=op.arch, table=op.table, group=op.group,
                return_type=rettype, params=params, convention=op.convention,
                signature_source=source, guard=guard_expression(op.guard), file=op.file, line=op.line,
                comment=op.comment,
                call_sites=tuple(sorted(set(op.call_sites), key=lambda c: (c.file, c.line, c.kind))),
                wrappers=tuple(wrappers), implementations=tuple(impls), cleared_by=tuple(clears),
                leaves_native=leaves,
            ))
        tables = []
        for key in sorted(self.roots):
            root = self.roots[key]
            root_ops = [o for o in ops if o.arch == root.arch and o.table == root.name]
            gen = "unified" if root.unified else None
            tables.append((root, root_ops, gen))
        arch_roots = defaultdict(list)
        for root, root_ops, _ in tables:
            if root_ops:
                arch_roots[root.arch].append(root)
        arch_generation = {}
        for root, root_ops, gen in tables:
            if root_ops:
                arch_generation[root.arch] = gen or ("split" if len(arch_roots[root.arch]) > 1 else "single")
        out_tables = []
        for root, root_ops, gen in tables:
            if gen is None:
                # A data-only table (pv_info) belongs to its architecture's generation.
                gen = arch_generation.get(root.arch) if not root_ops else None
                gen = gen or ("split" if len(arch_roots[root.arch]) > 1 else "single")
            groups = tuple(sorted({o.group for o in root_ops}))
            out_tables.append(Table(root.name, root.type, root.arch, gen, root.file, root.line,
                                    guard_expression(root.guard), groups, len(root_ops)))
        backends = {k: tuple(sorted(v)) for k, v in sorted(backend_files.items())}
        return Inventory(tuple(out_tables), tuple(ops), backends, tuple(sorted(set(self.warnings))))


def build_inventory(facts: list[FileFacts], backend_map: BackendMap) -> Inventory:
    b = _Builder(facts, backend_map)
    b.collect()
    b.enumerate_ops()
    b.call_sites()
    b.implementations()
    return b.freeze()


def _merge(*guards) -> tuple:
    out = []
    for g in guards:
        for t in g or ():
            if t not in out:
                out.append(t)
    return tuple(out)


def _signature_from_call_sites(sites):
    """A callee-save op declares no signature; its PVOP_*CALLEE* uses give one."""
    for c in sorted(sites, key=lambda c: (c.file, c.line)):
        if c.kind.startswith("PVOP_") and c.arity is not None:
            rettype = c.return_type if c.return_type is not None else "void"
            return rettype, tuple(Param("", None) for _ in range(c.arity)), "call_site"
    return None, None, None


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WRAPPER_MACRO = re.compile(r"([A-Z_][A-Z0-9_]*)\s*\((.*)\)", re.S)


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
