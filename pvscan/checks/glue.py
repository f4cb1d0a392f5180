"""Backend glue traced down to hypercalls: which hypercall each implementation ends in.

From each backend implementation function, follow calls through the
backend's own files and the headers they include (tree-sitter, depth
bounded) until a hypercall primitive: Xen HYPERVISOR_* and MULTI_* (a
multicall batch), kvm_hypercall*, hv_do_*hypercall*, lguest hcall, writes
to hypervisor MSRs, or vmcall/vmmcall in inline asm. Calls through function
pointers are noted and not followed.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field

from pvscan.facts.preprocess import preprocess
from pvscan.facts.syntax import declarator_name, innermost_identifier, node_text, parse_tree
from pvscan.source.directory import KernelTree
from pvscan.source.files import SkippedFile

MAX_DEPTH = 6

# Primitive calls: (function-name pattern, how to name the hypercall from the call).
_XEN = re.compile(r"^(?:HYPERVISOR|MULTI)_(\w+)$")
_NUMBERED = re.compile(r"^(kvm_hypercall\d|kvm_sev_hypercall\d|hv_do_hypercall|hv_do_fast_hypercall\d+|"
                       r"hv_do_rep_hypercall|hcall|lazy_hcall\d?)$")
_FIRST_ARG = re.compile(r"^(?:KVM_HC_|HVCALL_|LHCALL_)(\w+)")
_MSR_WRITE = re.compile(r"^(?:wrmsrl?|wrmsr_safe|native_write_msr)$")
_MSR = re.compile(r"^(MSR_KVM_\w+|HV_X64_MSR_\w+)")


@dataclass(frozen=True)
class Step:
    function: str
    file: str
    line: int


@dataclass(frozen=True)
class Reach:
    """One hypercall an implementation reaches, and the call chain to it."""

    hypercall: str
    chain: tuple[Step, ...]      # from the implementation down to the primitive call
    batched: bool = False        # reached as a MULTI_* multicall entry


@dataclass
class _Function:
    name: str
    file: str
    line: int
    calls: list = field(default_factory=list)       # (callee, line, first argument text)
    indirect: list = field(default_factory=list)    # lines of calls through pointers
    asm_vmcall: list = field(default_factory=list)


def backend_files(tree: KernelTree, inventory, backend: str) -> list[str]:
    """The backend's .c files (every .c in the directories it has files in) and the headers they include."""
    dirs = sorted({os.path.dirname(f) for (arch, b), files in inventory.backends.items() if b == backend
                   for f in files})
    files = []
    for d in dirs:
        try:
            names = sorted(os.listdir(tree.root / d))
        except OSError:
            continue
        files += [f"{d}/{n}" for n in names if n.endswith(".c") and not os.path.islink(tree.root / d / n)]
    headers = set()
    for rel in files:
        headers |= _included(tree, rel)
    return sorted(set(files) | headers)


_INCLUDE = re.compile(rb'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def _included(tree, rel):
    arch = rel.split("/")[1] if rel.startswith("arch/") else "x86"
    try:
        data = tree.read(rel)
    except SkippedFile:
        return set()
    out = set()
    for m in _INCLUDE.finditer(data):
        inc = m.group(1).decode(errors="replace")
        for cand in (f"{os.path.dirname(rel)}/{inc}", f"arch/{arch}/include/{inc}", f"include/{inc}"):
            # Only the hypervisor interface headers: the rest of the kernel is not the glue.
            if ("xen" in cand or "hyperv" in cand or "kvm_para" in cand or "mshyperv" in cand
                    or "lguest" in cand) and (tree.root / cand).is_file():
                out.add(cand)
                break
    return out


def call_graph(tree: KernelTree, files) -> dict[str, _Function]:
    graph: dict[str, _Function] = {}
    for rel in files:
        try:
            data = tree.read(rel)
        except SkippedFile:
            continue
        pre = preprocess(data)
        root = parse_tree(pre.text).root_node
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type == "function_definition":
                name = declarator_name(node.child_by_field_name("declarator"))
                if name and name not in graph:
                    graph[name] = _collect(node, name, rel, pre.text)
                continue
            stack.extend(node.children)
    return graph


def _parameters(fn_node, text) -> set[str]:
    """Names of the function's parameters: a call of one of them goes through a pointer."""
    names = set()
    stack = [fn_node.child_by_field_name("declarator")]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if node.type == "parameter_declaration":
            ident = innermost_identifier(node.child_by_field_name("declarator"))
            if ident is not None:
                names.add(node_text(ident, text))
            continue
        stack.extend(node.children)
    return names


def _collect(fn_node, name, rel, text) -> _Function:
    f = _Function(name, rel, fn_node.start_point[0] + 1)
    params = _parameters(fn_node, text)
    stack = [fn_node.child_by_field_name("body")]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if node.type == "call_expression":
            callee = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            first = ""
            if args is not None and args.named_child_count:
                first = node_text(args.named_children[0], text)
            if callee is not None and callee.type == "identifier" and node_text(callee, text) not in params:
                f.calls.append((node_text(callee, text), node.start_point[0] + 1, first))
            else:
                f.indirect.append(node.start_point[0] + 1)
        elif node.type == "gnu_asm_expression":
            body = node_text(node, text)
            if "vmcall" in body or "vmmcall" in body:
                f.asm_vmcall.append(node.start_point[0] + 1)
        stack.extend(node.children)
    return f


def _primitive(callee: str, first_arg: str):
    """(hypercall name, batched) if the call is a hypercall primitive."""
    m = _XEN.match(callee)
    if m:
        return m.group(1), callee.startswith("MULTI_")
    if _NUMBERED.match(callee):
        a = _FIRST_ARG.match(first_arg.strip())
        return (a.group(1).lower() if a else callee), False
    if _MSR_WRITE.match(callee):
        a = _MSR.match(first_arg.strip())
        if a:
            return f"msr:{a.group(1)}", False
    return None


def trace(graph, function: str, max_depth: int = MAX_DEPTH) -> tuple[list[Reach], list[Step]]:
    """Every hypercall reachable from function, with its chain; and the indirect calls met."""
    if function not in graph:
        return [], []
    reaches, indirect = {}, []
    start = graph[function]
    queue = deque([(start, (Step(start.name, start.file, start.line),), 0)])
    seen = {function}
    while queue:
        fn, chain, depth = queue.popleft()
        for line in fn.indirect:
            indirect.append(Step(fn.name, fn.file, line))
        for line in fn.asm_vmcall:
            key = ("vmcall", False)
            reaches.setdefault(key, Reach("vmcall", chain + (Step(fn.name, fn.file, line),)))
        for callee, line, first in fn.calls:
            prim = _primitive(callee, first)
            if prim is not None:
                name, batched = prim
                reaches.setdefault((name, batched), Reach(name, chain + (Step(callee, fn.file, line),), batched))
                continue
            if callee in graph and callee not in seen and depth + 1 < max_depth:
                seen.add(callee)
                nxt = graph[callee]
                queue.append((nxt, chain + (Step(callee, nxt.file, nxt.line),), depth + 1))
    return sorted(reaches.values(), key=lambda r: (r.hypercall, r.batched, len(r.chain))), indirect


def derive(tree: KernelTree, inventory, backend: str):
    """{op name: [Reach]} for every op the backend implements, and the files read."""
    files = backend_files(tree, inventory, backend)
    graph = call_graph(tree, files)
    out = {}
    for op in inventory.ops:
        reaches = {}
        for impl in op.implementations:
            if impl.backend != backend:
                continue
            for r in trace(graph, impl.function)[0]:
                reaches.setdefault(r.hypercall, r)
        if any(i.backend == backend for i in op.implementations):
            out[op.name] = sorted(reaches.values(), key=lambda r: r.hypercall)
    return out, files
