"""Pass 1: the tables and their ops, from the struct definitions and table globals of all files.

Discovery, in the order the kernel's own declarations give it:

1. roots: non-static globals whose name follows the table convention
   (naming.TABLE_NAME) and whose type is a struct: 'pv_ops', 'pv_mmu_ops',
   'paravirt_ops' ...;
2. ops: walking each root's struct, every function-pointer member and every
   'struct paravirt_callee_save' member is an op; a member whose struct
   type holds ops is a group (or a sub-group, like mmu.lazy_mode).

Names: in the unified generation (a root whose members are all groups,
'struct paravirt_patch_template pv_ops', 4.20 on) an op is named by its
member path ('mmu.set_pte'), as PVOP_* macros name it; otherwise by the
root and the path ('pv_mmu_ops.set_pte', 'paravirt_ops.set_pte').

The result, a TableModel, is what the later passes resolve references
against: nothing is invented for a member that no struct declares.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.errors import Warning_
from pvscan.facts.model import FileFacts, Param
from pvscan.naming import CALLEE_SAVE_STRUCT, TABLE_NAME_RE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pvscan.facts.model import Member, StructDef

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# {(arch, struct tag): (its first definition, the file that has it)}
Structs = dict[tuple[str, str], tuple["StructDef", str]]

@dataclass(frozen=True)
class Root:
    """A table's global instance: 'struct paravirt_patch_template pv_ops'."""

    name: str
    type: str
    arch: str
    file: str
    line: int
    guard: tuple
    unified: bool = False
    definition: str | None = None    # the .c file that defines it (not 'extern'): what Kbuild builds


@dataclass(frozen=True)
class OpDecl:
    """An op as its table declares it, before anything else is known of it."""

    name: str
    arch: str
    table: str
    group: str
    path: tuple[str, ...]        # member path from the root: ('mmu', 'set_pte')
    return_type: str | None
    params: tuple[Param, ...] | None
    convention: str              # "plain" | "callee_save"
    signature_source: str | None
    guard: tuple
    file: str
    line: int
    comment: str | None
    # A member declared in both branches of one #if/#else (2.6.22's pte_val under
    # CONFIG_X86_PAE and not): each branch's (guard, return type, params, line).
    variants: tuple = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.arch, self.name)


@dataclass(frozen=True)
class TableModel:
    """The tables, read-only once built. Mappings are plain dicts that no pass changes."""

    roots: dict[tuple[str, str], Root]                 # (arch, instance) -> Root
    ops: tuple[OpDecl, ...]                            # in declaration order
    by_path: dict[tuple[str, str, tuple[str, ...]], OpDecl]        # (arch, root, path) -> OpDecl
    groups: dict[tuple[str, str, tuple[str, ...]], str]            # (arch, root, path) -> struct tag of a group member
    data_members: frozenset[tuple[str, str, tuple[str, ...]]]      # (arch, root, path) of members that are not ops
    # (arch, struct tag) -> ((root, path prefix), ...) where it sits
    type_paths: dict[tuple[str, str], tuple[tuple[str, tuple[str, ...]], ...]]
    warnings: tuple[Warning_, ...]
    # arch -> roots whose struct PARAVIRT_PATCH() takes offsets in
    offset_roots: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self, arch: str, root_name: str, path: tuple[str, ...], allow_unified: bool = False) -> list[OpDecl]:
        """The ops (arch, root, path) names: one in an architecture's file; in a generic file
        (drivers/xen/time.c filling pv_time_ops.steal_clock for x86, arm and arm64), the op of
        every architecture that has it, since the file is built for each of them."""
        arches = [arch] if arch != "generic" else sorted({a for (a, _) in self.roots})
        return [op for a in arches if (op := self._resolve_in(a, root_name, path, allow_unified)) is not None]

    def is_root(self, arch: str, name: str) -> bool:
        """Whether name is a table of arch (of any arch, from a generic file)."""
        if arch != "generic":
            return (arch, name) in self.roots
        return any(n == name for (_, n) in self.roots)

    def resolve_text(self, arch: str, text: str) -> list:
        """An op reference as PVOP_* macros write it: 'mmu.set_pte', 'pv_mmu_ops.set_pte'."""
        parts = [p.strip() for p in text.split(".")]
        if not parts or not all(_IDENT.fullmatch(p) for p in parts):
            return []
        found = self.resolve(arch, parts[0], tuple(parts[1:]), allow_unified=True)
        if not found and self.offset_roots:
            # 'PVOP_VCALL1(write_cr0, x)' (2.6.22): a member path of the struct that
            # PARAVIRT_PATCH() takes the offset in, which is the type of one root.
            arches = [arch] if arch != "generic" else sorted(self.offset_roots)
            found = [op for a in arches for root in self.offset_roots.get(a, ())
                     if (op := self._resolve_in(a, root, tuple(parts), False)) is not None]
        return found

    def _resolve_in(self, arch: str, root_name: str, path: tuple[str, ...], allow_unified: bool) -> OpDecl | None:
        if (arch, root_name) in self.roots:
            op = self.by_path.get((arch, root_name, path))
            if op is None and path and path[-1] == "func":
                # 'pv_ops.mmu.read_cr2.func': the callee-save op's function pointer.
                op = self.by_path.get((arch, root_name, path[:-1]))
                if op is not None and op.convention != "callee_save":
                    op = None
            return op
        if allow_unified:
            for (a, name), root in self.roots.items():
                if a == arch and root.unified:
                    return self._resolve_in(arch, name, (root_name,) + path, False)
        return None


def find_tables(facts: list[FileFacts]) -> TableModel:
    warnings: list[Warning_] = []
    structs, duplicates = _structs(facts)
    roots = _roots(facts, structs)
    walk = _Walk(structs)
    unified_roots = {}
    for key in sorted(roots):
        root = roots[key]
        unified_roots[key] = Root(root.name, root.type, root.arch, root.file, root.line, root.guard,
                                  _is_unified(structs, root), root.definition)
        walk.root(unified_roots[key])
    for arch, tag in sorted(walk.walked):
        s, file = _defined(structs, arch, tag)
        for dup_file, dup_line in duplicates.get((arch, tag), ()):
            warnings.append(Warning_(dup_file, dup_line, f"struct {tag} also defined in {file}:{s.line} "
                                     "with other members; using that one"))
    for f in facts:
        for line, msg in f.warnings:
            warnings.append(Warning_(f.path, line, msg))
    return TableModel(unified_roots, tuple(walk.ops), walk.by_path, walk.groups, frozenset(walk.data_members),
                      {k: tuple(v) for k, v in walk.type_paths.items()}, tuple(warnings + walk.warnings),
                      _offset_roots(facts, unified_roots))


def _offset_roots(facts: Sequence[FileFacts], roots: dict[tuple[str, str], Root]) -> dict:
    """{arch: (root, ...)}: the non-unified roots whose struct a PARAVIRT_PATCH()-like macro of
    that arch (or a generic file) takes op offsets in; only those make a bare op name an op."""
    tags: dict = {}
    for f in facts:
        for tag in f.op_offset_structs:
            tags.setdefault(f.arch, set()).add(tag)
    generic = tags.pop("generic", set())
    out: dict[str, list[str]] = {}
    for (arch, name), root in sorted(roots.items()):
        if not root.unified and root.type in (tags.get(arch, set()) | generic):
            out.setdefault(arch, []).append(name)
    return {arch: tuple(names) for arch, names in out.items()}


def _structs(facts: Sequence[FileFacts]) -> tuple[Structs, dict[tuple[str, str], list[tuple[str, int]]]]:
    """{(arch, tag): (StructDef, file)}, the first definition of each, and the others that differ."""
    structs: Structs = {}
    duplicates: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for f in facts:
        for s in f.structs:
            key = (f.arch, s.name)
            if key in structs:
                other, _ = structs[key]
                if [m.name for m in other.members] != [m.name for m in s.members] and s.members:
                    duplicates.setdefault(key, []).append((f.path, s.line))
                continue
            structs[key] = (s, f.path)
    return structs, duplicates


def _struct(structs: Structs, arch: str, tag: str) -> tuple[StructDef, str] | None:
    return structs.get((arch, tag)) or structs.get(("generic", tag))


def _defined(structs: Structs, arch: str, tag: str) -> tuple[StructDef, str]:
    """_struct of a tag already found defined: a root's type, or a struct the walk reached."""
    found = _struct(structs, arch, tag)
    assert found is not None
    return found


def _roots(facts: Sequence[FileFacts], structs: Structs) -> dict:
    roots: dict[tuple[str, str], Root] = {}
    definitions: dict[tuple[str, str], set[str]] = {}
    for f in facts:
        decls = [(g.name, g.type_name, g.via_typeof, g.storage, g.line, g.guard) for g in f.globals]
        decls += [(i.name, i.type_name, i.via_typeof, i.storage, i.line, i.guard) for i in f.initializers]
        for name, type_name, via_typeof, storage, line, guard in decls:
            if via_typeof or storage == "static" or not TABLE_NAME_RE.match(name):
                continue
            if _struct(structs, f.arch, type_name) is None:
                continue
            arch = f.arch if f.arch != "generic" else _struct_arch(structs, type_name)
            if storage != "extern" and f.path.endswith(".c"):
                definitions.setdefault((arch, name), set()).add(f.path)
            root = roots.get((arch, name))
            # Prefer the declaration in a header (where the type lives) for the location.
            if root is None or (root.file.endswith(".c") and f.path.endswith(".h")):
                roots[(arch, name)] = Root(name, type_name, arch, f.path, line, guard)
    # One defining file, or none said: two (per-configuration copies) would need both conditions.
    return {key: dataclasses.replace(root, definition=next(iter(definitions[key]))
                                     if len(definitions.get(key, ())) == 1 else None)
            for key, root in roots.items()}


def _struct_arch(structs: Structs, tag):
    arches = sorted(a for (a, n) in structs if n == tag)
    return arches[0] if arches else "generic"


def holds_ops(structs: Structs, arch: str, tag: str, seen: frozenset = frozenset()) -> bool:
    """Whether struct tag has an op somewhere inside it (callee-save counts as one)."""
    if tag == CALLEE_SAVE_STRUCT or tag in seen:
        return tag == CALLEE_SAVE_STRUCT
    hit = _struct(structs, arch, tag)
    if hit is None:
        return False
    seen = seen | {tag}
    return any(m.kind == "fnptr" or (m.kind == "struct" and holds_ops(structs, arch, m.type, seen))
               for m in hit[0].members)


def _is_unified(structs: Structs, root: Root) -> bool:
    """A root whose members are groups only: 'struct paravirt_patch_template pv_ops'."""
    s, _ = _defined(structs, root.arch, root.type)
    direct_ops = any(m.kind == "fnptr" or (m.kind == "struct" and m.type == CALLEE_SAVE_STRUCT)
                     for m in s.members)
    has_groups = any(m.kind == "struct" and holds_ops(structs, root.arch, m.type) for m in s.members)
    return has_groups and not direct_ops


class _Walk:
    """Collects one walk of the roots' structs; find_tables freezes what it gathered."""

    def __init__(self, structs: Structs) -> None:
        self.structs = structs
        self.ops: list[OpDecl] = []
        self.warnings: list[Warning_] = []
        self.data_members: set[tuple[str, str, tuple[str, ...]]] = set()        # (arch, root, path)
        self.by_path: dict[tuple[str, str, tuple[str, ...]], OpDecl] = {}
        self.groups: dict[tuple[str, str, tuple[str, ...]], str] = {}           # (arch, root, path) -> struct tag
        # (arch, tag) -> (root, prefix)
        self.type_paths: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = {}
        self.names: dict[tuple[str, str], OpDecl] = {}
        self.walked: set[tuple[str, str]] = set()

    def root(self, root: Root) -> None:
        # The op's guard is the #if nesting around its member and the structs on
        # its path; the root instance's own declaration is not part of it.
        self._walk(root, root.type, (), (), None, frozenset())

    def _walk(self, root: Root, tag: str, prefix: tuple[str, ...], guard: tuple[str, ...], group: str | None,
              seen: frozenset) -> None:
        s, file = _defined(self.structs, root.arch, tag)
        self.walked.add((root.arch, tag))
        self.type_paths.setdefault((root.arch, tag), []).append((root.name, prefix))
        struct_guard = guard + s.guard
        for m in s.members:
            path = prefix + (m.name,)
            g = merge_guards(struct_guard, m.guard)
            grp = group or (m.name if root.unified else root.name)
            if m.kind == "fnptr":
                self._op(root, path, grp, m.type, m.params, "plain", "declaration", g, file, m)
            elif m.kind == "struct" and m.type == CALLEE_SAVE_STRUCT:
                self._op(root, path, grp, None, None, "callee_save", None, g, file, m)
            elif m.kind == "struct" and m.type not in seen and holds_ops(self.structs, root.arch, m.type):
                self.groups[(root.arch, root.name, path)] = m.type
                self._walk(root, m.type, path, g, grp, seen | {tag})
            else:
                self.data_members.add((root.arch, root.name, path))

    def _op(self, root: Root, path: tuple[str, ...], group: str, rettype: str | None, params: Any, convention: str,
            source: str | None, guard: tuple[str, ...], file: str, m: Member) -> None:
        name = ".".join(path) if root.unified else ".".join((root.name,) + path)
        first = self.names.get((root.arch, name))
        if first is not None:
            twin = _twin(first, guard, file, rettype, params, m.line)
            if twin is None:
                self.warnings.append(Warning_(file, m.line,
                                              f"op {name} declared twice; keeping {first.file}:{first.line}"))
                return
            self.ops[self.ops.index(first)] = twin
            self.names[twin.key] = twin
            self.by_path[(root.arch, root.name, path)] = twin
            return
        op = OpDecl(name, root.arch, root.name, group, path, rettype, params, convention, source, guard, file,
                    m.line, m.comment)
        self.names[op.key] = op
        self.ops.append(op)
        self.by_path[(root.arch, root.name, path)] = op


def _twin(first: OpDecl, guard: tuple[str, ...], file: str, rettype: str | None, params: tuple[Param, ...] | None,
          line: int) -> OpDecl | None:
    """first, declared again in the other branch of the same conditional, as one op under the
    guard they share, with the signature of each branch; None if the guards are not such."""
    if file != first.file or first.convention != "plain":
        return None
    base = first.guard if not first.variants else first.variants[0][0]
    common = 0
    while common < min(len(base), len(guard)) and base[common] == guard[common]:
        common += 1
    shared, one, other = base[:common], base[common:], guard[common:]
    if not one or not other or not _complementary(one, other):
        return None
    variants = first.variants or ((base, first.return_type, first.params, first.line),)
    return dataclasses.replace(first, guard=shared, variants=variants + ((guard, rettype, params, line),))


def _complementary(a: tuple, b: tuple) -> bool:
    """Whether the conjunctions a and b split every configuration between them (#if X / #else)."""
    from pvscan.facts.guards import as_config, config_options, configurations, evaluate
    from pvscan.facts.preprocess import guard_expression

    ea, eb = guard_expression(a), guard_expression(b)
    names = config_options(ea, eb)
    if not names or len(names) > 8:
        return False
    for chosen in configurations(names):
        va, _ = evaluate(ea, as_config(chosen))
        vb, _ = evaluate(eb, as_config(chosen))
        if va is None or vb is None or va == vb:
            return False
    return True


def merge_guards(*guards) -> tuple:
    """The conjunction of guards as one tuple of terms, each once, in order."""
    return tuple(dict.fromkeys(t for g in guards for t in g or ()))
