"""Where a struct's fields sit in memory, from the tree's headers, for one ABI's target.

A shared area (KVM's struct kvm_steal_time, Xen's struct vcpu_info) is a
contract between guest and hypervisor: the hypervisor writes a field at the
offset its specification fixes, whatever the guest's header says. This module
lays a struct out as the C compiler does for the ABI's target (natural
alignment of each member; i386 aligns 8-byte integers to 4; a packed struct
has no padding), from the headers the ABI names for the area: their structs,
unions and typedefs, each member under its #if nesting evaluated with the
ABI's configuration and the target's predefined macros. Bit-fields, and types
neither the headers nor the documented table (checks.typesizes) give a size,
leave the fields from there on at an unknown offset: a note, never a guess.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.checks.constexpr import Evaluator
from pvscan.checks.typesizes import size_bits
from pvscan.facts.ctext import fold
from pvscan.facts.guards import evaluate
from pvscan.facts.preprocess import guard_expression, preprocess
from pvscan.facts.syntax import node_text, parse_tree
from pvscan.source.files import SkippedFile

if TYPE_CHECKING:
    from tree_sitter import Node

    from pvscan.facts.preprocess import Preprocessed


# What the compiler predefines for each target, which uapi and Xen headers test.
_PREDEFINED = {
    "x86_64": {"__x86_64__": 1, "CONFIG_X86_64": True, "CONFIG_64BIT": True, "CONFIG_X86_32": False,
               "__i386__": False},
    "i386": {"__i386__": 1, "CONFIG_X86_32": True, "CONFIG_X86_64": False, "CONFIG_64BIT": False,
             "__x86_64__": False},
}
_PREDEFINED["i386-pae"] = _PREDEFINED["i386"]
_PREDEFINED["arm64"] = {"__aarch64__": 1, "CONFIG_ARM64": True, "CONFIG_64BIT": True, "__x86_64__": False,
                        "__i386__": False}
_PREDEFINED["riscv64"] = {"__riscv": 1, "__riscv_xlen": 64, "CONFIG_RISCV": True, "CONFIG_64BIT": True,
                          "__x86_64__": False, "__i386__": False}
_PREDEFINED["loongarch64"] = {"__loongarch64": 1, "CONFIG_LOONGARCH": True, "CONFIG_64BIT": True,
                              "__x86_64__": False, "__i386__": False}
# Fixed-width names the table does not spell.
_STDINT = {"uint8_t": "u8", "int8_t": "s8", "uint16_t": "u16", "int16_t": "s16", "uint32_t": "u32",
           "int32_t": "s32", "uint64_t": "u64", "int64_t": "s64", "__s8": "s8", "__s16": "s16", "__le16": "u16",
           "__le32": "u32", "__le64": "u64", "__be16": "u16", "__be32": "u32", "__be64": "u64"}
_PACKED = re.compile(r"\b(?:__packed|packed|__packed__)\b")
_ALIGNED = re.compile(r"__aligned\s*\(\s*([0-9]+)\s*\)|aligned\s*\(\s*([0-9]+)\s*\)")
_MAX_DEPTH = 16
_BITMAP = re.compile(r"^DECLARE_BITMAP\s*\(\s*(\w+)\s*,\s*(.+?)\s*\)\s*;?$")


@dataclass(frozen=True)
class FieldAt:
    """A member of the laid-out struct: its offset and size in bytes (None when unknown)."""

    name: str
    offset: int | None
    size: int | None
    file: str
    line: int


@dataclass(frozen=True)
class Layout:
    """A struct as laid out for one target."""

    struct: str
    file: str
    line: int
    fields: tuple[FieldAt, ...]
    unknown: str | None = None     # why the offsets from some field on could not be computed

    def field(self, name: str) -> FieldAt | None:
        return next((f for f in self.fields if f.name == name), None)


def struct_layout(source, headers, tag: str, target: str, config: dict) -> tuple[Layout | None, list[str]]:
    """(the struct's Layout, or None when no header defines it; what could not be read). The
    headers named come first; where they leave an offset unknown, the headers they include (to
    _INCLUDE_DEPTH, at most _INCLUDED_FILES of them) give the types and macros they use
    (struct timespec, NR_IRQS)."""
    types = _Types(target, {**_PREDEFINED.get(target, {}), **config})
    problems = []
    for rel in headers:
        try:
            types.read(rel, source.read(rel))
        except SkippedFile as e:
            problems.append(f"{rel}: {e}")
    if tag not in types.structs:
        return None, problems
    first = types.layout(tag)
    if first.unknown is None:
        return first, problems      # the headers named say it all: nothing more to read
    read, level = set(headers), list(headers)
    for _ in range(_INCLUDE_DEPTH):
        following = []
        for rel in level:
            for inc in types.includes.get(rel, ()):
                for candidate in _include_candidates(rel, inc, target):
                    if candidate in read or len(read) >= _INCLUDED_FILES:
                        continue
                    try:
                        data = source.read(candidate)
                    except (SkippedFile, OSError):
                        continue
                    read.add(candidate)
                    types.read(candidate, data)
                    following.append(candidate)
                    break
        level = following
    return types.layout(tag), problems


_INCLUDE_DEPTH = 8
_INCLUDED_FILES = 400
_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"]', re.M)
_ARCH_OF = {"x86_64": "x86", "i386": "x86", "i386-pae": "x86", "arm64": "arm64", "riscv64": "riscv",
            "loongarch64": "loongarch"}


def _include_candidates(rel: str, inc: str, target: str) -> list[str]:
    """Where '#include <inc>' (or "inc") of rel may be in the tree, for the target, first first."""
    arch = _ARCH_OF.get(target, "x86")
    old = "i386" if target.startswith("i386") else "x86_64" if target == "x86_64" else arch
    out = [posixpath.join(posixpath.dirname(rel), inc)]
    out += [f"arch/{arch}/include/{inc}", f"arch/{arch}/include/uapi/{inc}", f"arch/{arch}/include/generated/{inc}",
            f"include/{inc}", f"include/uapi/{inc}"]
    if inc.startswith("asm/"):
        # include/asm-i386 until 2.6.23, include/asm-x86 from 2.6.24 to 2.6.27.
        out += [f"include/asm-{old}/{inc[4:]}", f"include/asm-{arch}/{inc[4:]}", f"include/asm-generic/{inc[4:]}",
                f"include/uapi/asm-generic/{inc[4:]}"]
    # i386's default subarchitecture is on the compiler's include path ('-Iinclude/asm-x86/mach-default',
    # 2.6.2x; arch/x86/include/asm/mach-default until 2.6.30): its irq_vectors.h defines NR_IRQS.
    if "/" not in inc and arch == "x86":
        out += [f"include/asm-{old}/mach-default/{inc}", f"include/asm-x86/mach-default/{inc}",
                f"arch/x86/include/asm/mach-default/{inc}"]
    return out


class _Types:
    """The structs, unions and typedefs of some headers, and how to size and lay them out."""

    def __init__(self, target: str, config: dict) -> None:
        self.target = target
        self.config = config
        self.structs: dict = {}     # tag -> (kind, members, packed, align, file, line)
        self.typedefs: dict = {}    # name -> type text (or 'struct TAG')
        self.definitions: dict = {}  # macro -> [(params, body)], each #define its config allows
        self.includes: dict = {}     # header -> what it #includes, in order
        bits = size_bits("unsigned long", target) or 64
        self.constants = Evaluator(self.definitions, bits)

    def read(self, rel: str, data: bytes) -> None:
        pre = preprocess(data)
        # The #includes the target's configuration does not rule out: interface.h includes
        # interface_32.h only under CONFIG_X86_32.
        includes, row, at = [], 0, 0
        for m in _INCLUDE.finditer(data):
            row += data.count(b"\n", at, m.start())
            at = m.start()
            if self._exists(pre, row):
                includes.append(m.group(1).decode("utf-8", "replace"))
        self.includes[rel] = includes
        for d in pre.defines:
            if self._exists(pre, d.line - 1):
                self.definitions.setdefault(d.name, []).append((d.params, " ".join(d.body.split())))
        self.constants.known.clear()      # a macro read now may bound one evaluated before
        tree = parse_tree(pre.text)
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            if node.type in ("struct_specifier", "union_specifier"):
                self._record(rel, pre, node, data)
            elif node.type == "type_definition":
                self._typedef(pre, node)
            stack.extend(reversed(node.children))

    def _exists(self, pre: Preprocessed, row: int) -> bool:
        holds, _ = evaluate(guard_expression(pre.guard_at(row)), self.config)
        return holds is not False

    def _record(self, rel: str, pre: Preprocessed, node: Node, data: bytes, tag: str | None = None) -> None:
        name, body = node.child_by_field_name("name"), node.child_by_field_name("body")
        if (name is None and tag is None) or body is None or not self._exists(pre, node.start_point[0]):
            return
        tag = tag or node_text(name, pre.text) if name is not None else tag
        if tag in self.structs:
            return
        members = []
        for decl in body.named_children:
            if not self._exists(pre, decl.start_point[0]):
                continue
            if decl.type == "ERROR":   # a member the grammar cannot read: nothing after it is known
                members.append((None, fold(node_text(decl, pre.text)), (None,), 0, False, decl.start_point[0] + 1))
            elif decl.type == "field_declaration" and decl.child_by_field_name("type") is not None:
                members += self._members(rel, pre, decl, data)
        # The attributes after the body, as written: preprocessing blanks annotations, offsets kept.
        tail = data[body.end_byte:body.end_byte + 120].decode("utf-8", "replace").split(";")[0]
        packed = bool(_PACKED.search(tail))
        aligned = _ALIGNED.search(tail)
        align = int(aligned.group(1) or aligned.group(2)) if aligned else None
        self.structs[tag] = (node.type, tuple(members), packed, align, rel, node.start_point[0] + 1)

    def _members(self, rel: str, pre: Preprocessed, decl, data: bytes) -> list[tuple]:
        """The members one field declaration declares: (name, type, dimensions, pointer stars,
        whether a bit-field, line); a struct or union written in place is laid out as one of its
        own, and a member a macro declares has a name None (the offsets after it are unknown)."""
        type_node = decl.child_by_field_name("type")
        base = fold(node_text(type_node, pre.text))
        if (type_node.type in ("struct_specifier", "union_specifier")
                and type_node.child_by_field_name("body") is not None):
            inner = node_text(type_node.child_by_field_name("name"), pre.text) \
                if type_node.child_by_field_name("name") is not None else f"__pvscan_anon_{type_node.start_byte}"
            self._record(rel, pre, type_node, data, inner)
            base = f"{type_node.type.split('_')[0]} {inner}"
        bits = any(c.type == "bitfield_clause" for c in decl.children)
        declarators = decl.children_by_field_name("declarator")
        line = decl.start_point[0] + 1
        if declarators:
            return [(name_text, base, dims, stars, bits, d.start_point[0] + 1)
                    for d in declarators for name_text, dims, stars in [_declarator(d, pre.text)]]
        if type_node.type in ("struct_specifier", "union_specifier"):
            return [("", base, (), 0, bits, line)]   # an anonymous member
        written = fold(node_text(decl, pre.text))
        m = _BITMAP.match(written)
        if m:
            # DECLARE_BITMAP(name, bits): 'unsigned long name[BITS_TO_LONGS(bits)]'.
            return [(m.group(1), "unsigned long", (f"BITS_TO_LONGS({m.group(2)})",), 0, False, line)]
        # Another macro that declares a member: its size is the macro's business, so the
        # offsets from here on are unknown, never skipped.
        return [(None, written.rstrip(";"), (None,), 0, False, line)]

    def _typedef(self, pre: Preprocessed, node: Node) -> None:
        type_node = node.child_by_field_name("type")
        declarator = node.child_by_field_name("declarator")
        if type_node is None or declarator is None or not self._exists(pre, node.start_point[0]):
            return
        name, dims, stars = _declarator(declarator, pre.text)
        if name and not dims and not stars:
            self.typedefs.setdefault(name, fold(node_text(type_node, pre.text)).split("{")[0].strip())

    # -- sizes ------------------------------------------------------------------------

    def size_align(self, type_text: str, depth: int = 0) -> tuple[int | None, int | None]:
        """(size, alignment) in bytes of a type the headers or the table know, else (None, None)."""
        t = re.sub(r"\b(?:const|volatile)\b", " ", type_text)
        t = " ".join(t.split())
        if depth > _MAX_DEPTH:
            return None, None
        m = re.match(r"^(struct|union) ([A-Za-z_][A-Za-z0-9_]*)$", t)
        if m:
            layout = self.layout(m.group(2), depth + 1) if m.group(2) in self.structs else None
            if layout is None or layout.unknown:
                return None, None
            return self._whole(m.group(2), layout)
        if t in self.typedefs and self.typedefs[t] != t:
            return self.size_align(self.typedefs[t], depth + 1)
        bits = size_bits(_STDINT.get(t, t), self.target)
        if not bits:
            return None, None
        size = bits // 8
        align = min(size, 4) if self.target in ("i386", "i386-pae") and size == 8 else size
        return size, align

    def _whole(self, tag: str, layout: Layout) -> tuple[int, int]:
        """(size, alignment) of a laid-out struct: its end rounded up to its widest member's alignment."""
        _kind, members, packed, align, _file, _line = self.structs[tag]
        widest = 1
        if not packed:
            for _name, base, dims, stars, _bits, _l in members:
                widest = max(widest, self._member(base, dims, stars)[1] or 1)
        widest = max(widest, align or 1)
        end = max(((f.offset or 0) + (f.size or 0) for f in layout.fields), default=0)
        return _round(end, widest), widest

    def _member(self, base, dims, stars) -> tuple[int | None, int | None]:
        size: int | None
        align: int | None
        if stars:
            size = (size_bits("void *", self.target) or 0) // 8    # every target knows its pointers
            align = size
        else:
            size, align = self.size_align(base)
        if size is None:
            return None, None
        for dim in dims:
            n = self.constants.exact(dim) if isinstance(dim, str) else dim
            if n is None or n < 0:
                return None, None
            size *= n
        return size, align

    def layout(self, tag: str, depth: int = 0) -> Layout:
        kind, members, packed, align, file, line = self.structs[tag]
        out, offset, unknown = [], 0, None
        for name, base, dims, stars, bits, mline in members:
            size, a = (None, None) if bits or unknown else self._member(base, dims, stars)
            if size is None and not unknown:
                unsized = [d for d in dims if isinstance(d, str) and self.constants.exact(d) is None]
                if bits:
                    unknown = f"a bit-field at {file}:{mline} has no size pvscan knows"
                elif unsized and (stars or self.size_align(base)[0] is not None):
                    unknown = (f"the length of {name} ({unsized[0]}) at {file}:{mline} is no constant the "
                               "headers' macros fix")
                else:
                    unknown = f"{base!r} at {file}:{mline} has no size pvscan knows"
            if size is None:
                if name is not None:   # (None: a member a macro declares)
                    out.append(FieldAt(name, None, None, file, mline))
                continue
            at = 0 if kind == "union_specifier" else (offset if packed else _round(offset, a or 1))
            if name:
                out.append(FieldAt(name, at, size, file, mline))
            else:
                # An anonymous struct or union: its members are the outer struct's (vmware_steal_time's clock).
                inner = self.layout(base.split(" ", 1)[1], depth + 1)
                out.extend(FieldAt(f.name, None if f.offset is None else at + f.offset, f.size, f.file, f.line)
                           for f in inner.fields)
            offset = at + size if kind != "union_specifier" else max(offset, size)
        return Layout(tag, file, line, tuple(out), unknown)


def _round(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def _declarator(d, text: bytes) -> tuple[str | None, tuple, int]:
    """(name, array dimensions (an int, the size's text, or None when not written), pointer depth)."""
    dims: list[int | str | None] = []
    stars = 0
    while d is not None:
        if d.type in ("field_identifier", "identifier", "type_identifier", "primitive_type"):
            return node_text(d, text), tuple(reversed(dims)), stars
        if d.type == "array_declarator":
            size = d.child_by_field_name("size")
            value = node_text(size, text).strip() if size is not None else ""
            # A size not written as a number is evaluated from the headers' macros (checks.constexpr).
            dims.append(int(value, 0) if re.fullmatch(r"0[xX][0-9a-fA-F]+|[0-9]+", value) else (value or None))
        elif d.type in ("pointer_declarator", "pointer_field_declarator"):
            stars += 1
        elif d.type in ("function_declarator", "parenthesized_declarator"):
            stars += 1 if d.type == "function_declarator" else 0
        d = d.child_by_field_name("declarator") or next(
            (c for c in d.named_children if c.type.endswith("declarator") or c.type.endswith("identifier")), None)
    return None, tuple(reversed(dims)), stars
