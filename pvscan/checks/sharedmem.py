"""Shared areas in the glue: the structs a backend hands to its hypervisor, and the ops that use them.

A shared area is long-lived memory of the guest whose address the guest hands
to the hypervisor: lguest's lguest_data (LHCALL_LGUEST_INIT), Xen's per-cpu
xen_vcpu_info (VCPUOP_register_vcpu_info), KVM's per-cpu steal_time
(wrmsrl(MSR_KVM_STEAL_TIME, ...)). pvscan finds them from the code alone:

- a *handed* variable is a global (file scope or DEFINE_PER_CPU*) whose name
  reaches the arguments of a hypercall primitive or an MSR write, directly or
  through the locals assigned from it in the same function ('vcpup =
  &per_cpu(xen_vcpu_info, cpu); info.mfn = arbitrary_virt_to_mfn(vcpup);
  HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, cpu, &info)'), or that the
  assembly moves into a register before the hypercall;
- its struct is an area when a header of the hypervisor's interface the
  backend includes defines it. A local struct filled in for one call (Xen's
  struct mmu_update) is an argument, not an area: only globals are handed;
- an op uses a field of an area when its implementation, or a function it
  calls within the glue, reads or writes that member through any variable of
  the area's struct type ('vcpu->evtchn_upcall_mask', 'lguest_data.cr2',
  'this_cpu_read(xen_vcpu)->...'), or the assembly names the member's
  asm-offsets constant (LGUEST_DATA_irq_enabled).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.facts.syntax import innermost_identifier, node_text
from pvscan.identity import on_arch

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from tree_sitter import Node

    from pvscan.checks.glue import Glue, _Function
    from pvscan.inventory.model import Inventory
    from pvscan.source import Source


# Per-cpu accessors whose first argument names the variable whose storage they reach.
_PER_CPU = frozenset({"percpu_read", "percpu_write", "x86_read_percpu", "x86_write_percpu", "this_cpu_read", "__this_cpu_read", "raw_cpu_read", "this_cpu_ptr", "raw_cpu_ptr",
                      "per_cpu", "per_cpu_ptr", "get_cpu_var", "__get_cpu_var", "__raw_get_cpu_var",
                      "this_cpu_write", "__this_cpu_write", "this_cpu_inc", "this_cpu_dec"})
_DEFINE_PER_CPU = re.compile(rb"\bDEFINE_PER_CPU\w*\(\s*struct\s+(\w+)\s*\*?\s*,\s*(\w+)\s*\)")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_STRUCT_BODY = re.compile(rb"\bstruct\s+(\w+)\s*\{")


@dataclass(frozen=True)
class Handed:
    """A global handed to the hypervisor: its struct, and the call that hands it over."""

    struct: str
    variable: str
    hypercall: str        # 'lguest_init', 'vcpu_op', 'msr:MSR_KVM_STEAL_TIME'
    function: str
    file: str
    line: int


def struct_tag(type_node: Node | None, text: bytes) -> str | None:
    """'kvm_steal_time' of a declaration's type 'struct kvm_steal_time'."""
    if type_node is not None and type_node.type == "struct_specifier":
        name = type_node.child_by_field_name("name")
        if name is not None:
            return node_text(name, text)
    return None


def declared_structs(node: Node, text: bytes) -> dict[str, str]:
    """{variable: struct tag} of one declaration or parameter_declaration."""
    tag = struct_tag(node.child_by_field_name("type"), text)
    if tag is None:
        return {}
    out = {}
    for d in node.children_by_field_name("declarator"):
        ident = innermost_identifier(d)
        if ident is not None:
            out[node_text(ident, text)] = tag
    return out


def global_structs(root: Node, text: bytes) -> dict[str, str]:
    """{global variable: struct tag} of a file: file-scope declarations and DEFINE_PER_CPU*."""
    out = {}
    for child in root.children:
        if child.type == "declaration":
            out.update(declared_structs(child, text))
    for m in _DEFINE_PER_CPU.finditer(text):
        out[m.group(2).decode()] = m.group(1).decode()
    return out


def base_struct(node: Node | None, text: bytes, types: dict[str, str]) -> str | None:
    """The struct tag of the object an expression designates, where the code says it."""
    while node is not None:
        if node.type == "identifier":
            return types.get(node_text(node, text))
        if node.type in ("parenthesized_expression", "pointer_expression", "subscript_expression",
                         "cast_expression"):
            node = (node.child_by_field_name("argument") or node.child_by_field_name("value")
                    or (node.named_children[-1] if node.named_children else None))
            continue
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None or node_text(fn, text) not in _PER_CPU or args is None or not args.named_child_count:
                return None
            node = args.named_children[0]
            continue
        return None
    return None


def _nodes(body: Node | None) -> Iterator[Node]:
    """Every node under body (body included), depth first."""
    stack: list[Node | None] = [body]
    while stack:
        node = stack.pop()
        if node is not None:
            yield node
            stack.extend(node.children)


def accesses(body: Node | None, text: bytes, types: dict[str, str]) -> list[tuple[str, str, int]]:
    """(struct tag, member, line) of every member access in body whose object's struct is known."""
    out = []
    for node in _nodes(body):
        if node.type == "field_expression":
            tag = base_struct(node.child_by_field_name("argument"), text, types)
            member = node.child_by_field_name("field")
            if tag is not None and member is not None:
                out.append((tag, node_text(member, text), node.start_point[0] + 1))
    return out


def assignments(body: Node | None, text: bytes) -> list[tuple[int, str, bool, str]]:
    """(byte offset, local, whole, text assigned) of every assignment to a local or to a member
    of one (whole False) in body, in order: what a handed argument came from."""
    out = []
    for node in _nodes(body):
        if node.type == "assignment_expression":
            left = node.child_by_field_name("left")
            ident = _root_identifier(left)
            right = node.child_by_field_name("right")
            if left is not None and ident is not None and right is not None:
                out.append((node.start_byte, node_text(ident, text), left.type == "identifier",
                            node_text(right, text)))
        elif node.type == "init_declarator":
            ident = innermost_identifier(node.child_by_field_name("declarator"))
            value = node.child_by_field_name("value")
            if ident is not None and value is not None:
                out.append((node.start_byte, node_text(ident, text), True, node_text(value, text)))
    return sorted(out)


def _root_identifier(node: Node | None) -> Node | None:
    while node is not None and node.type in ("field_expression", "subscript_expression", "pointer_expression",
                                             "parenthesized_expression"):
        node = node.child_by_field_name("argument") or (node.named_children[0] if node.named_children else None)
    return node if node is not None and node.type == "identifier" else None


_MEMBER_VALUE = re.compile(r"\b[A-Za-z_]\w*\s*(?:\.|->)\s*[A-Za-z_][\w.]*")


def handed_globals(arguments: str, before: int, assigned: list[tuple[int, str, bool, str]],
                   globals_: dict[str, str]) -> list[str]:
    """The globals of a struct type whose storage a call's arguments (at byte offset before) hand
    over, through the locals assigned before the call: of a local, its last whole assignment and
    every member assignment count. A member's value ('lguest_data.pgdir') hands over no area."""
    last: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for at, name, whole, value in assigned:
        if at >= before:
            break
        if whole:
            last[name] = value
        else:
            parts.setdefault(name, []).append(value)
    seen, found = set(), []
    todo = deque(_IDENT.findall(_MEMBER_VALUE.sub(" ", arguments)))
    while todo:
        name = todo.popleft()
        if name in seen:
            continue
        seen.add(name)
        if name in globals_:
            found.append(name)
        for value in ([last[name]] if name in last else []) + parts.get(name, []):
            todo.extend(_IDENT.findall(_MEMBER_VALUE.sub(" ", value)))
    return sorted(set(found))


def interface_structs(tree: Source, headers: list[Any]) -> dict[str, str]:
    """{struct tag: header} of the structs the hypervisor-interface headers define."""
    from pvscan.source.files import SkippedFile

    out: dict[str, str] = {}
    for rel in sorted(headers):
        try:
            data = tree.read(rel)
        except SkippedFile:
            continue
        for m in _STRUCT_BODY.finditer(data):
            out.setdefault(m.group(1).decode(), rel)
    return out


def area_uses(graph: dict[str, _Function], function: str, areas: set[str], max_depth: int) -> set[tuple[str, str]]:
    """(area struct, member) the function and the glue functions it calls touch."""
    if function not in graph:
        return set()
    used, seen = set(), {function}
    queue = deque([(graph[function], 0)])
    while queue:
        fn, depth = queue.popleft()
        used |= {(tag, member) for tag, member, _ in fn.accesses if tag in areas}
        for callee, _, _ in fn.calls:
            if callee in graph and callee not in seen and depth + 1 < max_depth:
                seen.add(callee)
                queue.append((graph[callee], depth + 1))
    return used


@dataclass(frozen=True)
class DerivedAreas:
    """The shared areas of a backend's glue, and which ops use which of their members."""

    handed: dict          # struct tag -> [Handed], the calls that hand a global of it over
    headers: dict         # struct tag -> the interface header that defines it
    uses: dict            # op name -> sorted [(struct tag, member)]


def derive_areas(tree: Source, inventory: Inventory, glue: Glue, max_depth: int) -> DerivedAreas:
    """The areas glue (checks.glue.Glue) hands to its hypervisor and the members each op's
    implementation touches."""
    defined = interface_structs(tree, [f for f in glue.files if f.endswith(".h")])
    handed: dict = {}
    for fn in sorted(glue.graph.values(), key=lambda f: (f.file, f.line)):
        for h in fn.handed:
            if h.struct in defined:
                handed.setdefault(h.struct, []).append(h)
    uses = {}
    for op in inventory.ops:
        used = set()
        for impl in op.implementations:
            if impl.backend == glue.backend and on_arch(impl.file, glue.arch):
                used |= area_uses(glue.graph, impl.function, set(handed), max_depth)
        if used:
            uses[op.name] = sorted(used)
    return DerivedAreas(handed, {tag: defined[tag] for tag in handed}, uses)
