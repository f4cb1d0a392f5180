"""Backend glue traced down to hypercalls: which hypercall each implementation ends in.

From each backend implementation function, follow calls through the
backend's own files and the headers they include (tree-sitter, depth
bounded) until a hypercall primitive: Xen HYPERVISOR_* and MULTI_* (a
multicall batch), kvm_hypercall*, hv_do_*hypercall*, lguest hcall, writes
to hypervisor MSRs, or vmcall/vmmcall in inline asm. Calls through function
pointers are noted and not followed, except VMI's ROM calls (RomCalls).

VMI has no call instruction of its own: its option ROM exports one entry
point per call, numbered VMI_CALL_*. The backend either fills an op with
the entry itself (para_fill(op, CALL), a macro pasting VMI_CALL_##call), or
keeps it in a pointer its wrapper calls (para_wrap(op, wrapper, cache, CALL)
sets vmi_ops.cache; 'vmi_ops.set_pte = vmi_get_function(VMI_CALL_SetPxELong)').
A call through such a pointer reaches that ROM call.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.checks import asmglue, sharedmem
from pvscan.facts.guards import evaluate
from pvscan.facts.preprocess import guard_expression, preprocess
from pvscan.facts.syntax import declarator_name, innermost_identifier, node_text, parse_tree
from pvscan.identity import on_arch, same_arch
from pvscan.naming import is_table_name
from pvscan.source.directory import KernelTree
from pvscan.source.files import SkippedFile

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from tree_sitter import Node

    from pvscan.facts.preprocess import Define, Preprocessed
    from pvscan.inventory.model import Inventory


MAX_DEPTH = 6

# Primitive calls: (function-name pattern, how to name the hypercall from the call).
_XEN = re.compile(r"^(?:HYPERVISOR|MULTI)_(\w+)$")
_NUMBERED = re.compile(r"^(kvm_hypercall\d|kvm_sev_hypercall\d|hv_do_hypercall|hv_do_fast_hypercall\d+|"
                       r"hv_do_rep_hypercall|hcall|lazy_hcall\d?)$")
_FIRST_ARG = re.compile(r"^(?:KVM_HC_|HVCALL_|LHCALL_)(\w+)")
_MSR_WRITE = re.compile(r"^(?:wrmsr[lq]?|wrmsr_safe|wrmsrq_safe|native_write_msr|native_wrmsrq)$")
_MSR = re.compile(r"^(MSR_KVM_\w+|HV_X64_MSR_\w+)")


@dataclass(frozen=True)
class Step:
    """One function on the way from an op's implementation to a hypercall."""

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
    """A function of the glue code, with the calls it makes."""

    name: str
    file: str
    line: int
    calls: list = field(default_factory=list)       # (callee, line, first argument text)
    indirect: list = field(default_factory=list)    # lines of calls through pointers
    member_calls: list = field(default_factory=list)   # (pointer text 'vmi_ops.set_pte', line)
    asm_vmcall: list = field(default_factory=list)
    hypercalls: list = field(default_factory=list)     # (hypercall, line, instruction): an assembly function's
    accesses: list = field(default_factory=list)       # (struct tag, member, line): see checks.sharedmem
    handed: list = field(default_factory=list)         # sharedmem.Handed: globals given to the hypervisor


def backend_arch(inventory: Inventory, backend: str) -> str:
    """The architecture whose glue of backend is read when none is asked for: x86 where the
    backend has glue there, else the first of its architectures by name."""
    arches = sorted({a for (a, b) in inventory.backends if b == backend})
    return "x86" if any(same_arch(a, "x86") for a in arches) or not arches else arches[0]


def backend_files(tree: KernelTree, inventory: Inventory, backend: str, arch: str | None = None) -> list[str]:
    """The backend's .c and .S files (all of them in the directories it has files in) and the
    hypervisor-interface headers they include, and those headers include in turn."""
    dirs = sorted({os.path.dirname(f) for (a, b), files in inventory.backends.items()
                   if b == backend and (arch is None or same_arch(a, arch)) for f in files})
    files = []
    for d in dirs:
        try:
            names = sorted(os.listdir(tree.root / d))
        except OSError:
            continue
        files += [f"{d}/{n}" for n in names if n.endswith((".c", ".S")) and not os.path.islink(tree.root / d / n)]
    headers = set()
    for rel in files:
        headers |= _included(tree, rel)
    for rel in sorted(headers):
        headers |= _included(tree, rel)
    return sorted(set(files) | headers)


_INCLUDE = re.compile(rb'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def _included(tree: KernelTree, rel: str) -> set[Any]:
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


def call_graph(tree: KernelTree, files: list[str | Any], config: dict | None = None,
               arch: str = "x86") -> dict[str, _Function]:
    """{function name: _Function} of the C and assembly files. A name defined again under another
    #if (lguest_set_pmd for PAE and not) is the first definition whose guard the config (an ABI's)
    does not make false; a C definition comes before an assembly one of the same name."""
    parsed = _parsed_c(tree, files)
    globals_: dict[str, str] = {}
    for _, pre, root in parsed:
        globals_.update(sharedmem.global_structs(root, pre.text))
    graph: dict[str, _Function] = {}
    ruled_out: set = set()
    for rel, pre, root in parsed:
        for node in _function_definitions(root):
            name = declarator_name(node.child_by_field_name("declarator"))
            if not name or (name in graph and name not in ruled_out):
                continue
            guard = guard_expression(pre.guard_at(node.start_point[0]))
            out = config is not None and evaluate(guard, config)[0] is False
            if name in graph and out:
                continue            # keep the first, also ruled out, until a kept one comes
            graph[name] = _collect(node, name, rel, pre.text, globals_)
            if out:
                ruled_out.add(name)
            else:
                ruled_out.discard(name)
    offsets = None
    for rel in files:
        if rel.endswith(".S"):
            offsets = asmglue.asm_offsets(tree, arch) if offsets is None else offsets   # .S files are arch's
            for fn in asmglue.read_asm(tree, rel):
                graph.setdefault(fn.name, _from_asm(fn, offsets, globals_))
    return graph


def _parsed_c(tree: KernelTree, files: list[str | Any]) -> list:
    """[(path, Preprocessed, syntax tree root)] of the readable C files among files."""
    parsed = []
    for rel in files:
        if rel.endswith(".S"):
            continue
        try:
            data = tree.read(rel)
        except SkippedFile:
            continue
        pre = preprocess(data)
        parsed.append((rel, pre, parse_tree(pre.text).root_node))
    return parsed


def _function_definitions(root: Node) -> Iterator[Node]:
    """The function definitions under root, in file order: the first definition is met first."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            yield node
            continue
        stack.extend(reversed(node.children))


def _from_asm(fn: asmglue.AsmFunction, offsets: dict, globals_: dict) -> _Function:
    out = _Function(fn.name, fn.file, fn.line, calls=[(callee, line, "") for callee, line in fn.calls],
                    hypercalls=list(fn.hypercalls))
    out.accesses = [(*offsets[token], line) for token, line in fn.offsets if token in offsets]
    out.handed = [sharedmem.Handed(globals_[symbol], symbol, call, fn.name, fn.file, line)
                  for symbol, call, line in fn.handed if symbol in globals_]
    return out


def _parameters(fn_node: Node, text: bytes) -> set[str]:
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


def _collect(fn_node: Node, name: str, rel: str, text: bytes, globals_: dict[str, str] | None = None) -> _Function:
    f = _Function(name, rel, fn_node.start_point[0] + 1)
    params = _parameters(fn_node, text)
    body = fn_node.child_by_field_name("body")
    types = dict(globals_ or {})
    locals_ = _struct_locals(fn_node, text)
    for local, tag in locals_.items():
        if tag is None:
            types.pop(local, None)
        else:
            types[local] = tag
    f.accesses = sharedmem.accesses(body, text, types)
    handing = _Handing(body, text, globals_, locals_)
    stack = [body]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if node.type == "call_expression":
            _call(f, node, text, params, handing)
        elif node.type == "gnu_asm_expression":
            body_text = node_text(node, text)
            if "vmcall" in body_text or "vmmcall" in body_text:
                f.asm_vmcall.append(node.start_point[0] + 1)
        stack.extend(node.children)
    return f


class _Handing:
    """The globals a function's body may hand to the hypervisor, worked out at its first primitive
    call only (most functions make none)."""

    def __init__(self, body: Node | None, text: bytes, globals_: dict[str, str] | None,
                 locals_: dict[str, str | None]) -> None:
        self.body, self.text, self.globals_, self.locals_ = body, text, globals_, locals_
        self.assigned: list[tuple[int, str, bool, str]] | None = None   # sharedmem.assignments of the body
        self.shadowed: dict[str, str] | None = None     # the globals no local of the function hides

    def handed(self, f: _Function, node: Node, args: Node | None, prim: tuple[str, bool]) -> None:
        if not self.globals_ or args is None:
            return
        if self.assigned is None or self.shadowed is None:
            self.assigned = sharedmem.assignments(self.body, self.text)
            self.shadowed = {k: v for k, v in self.globals_.items() if k not in self.locals_}
        shadowed = self.shadowed
        for g in sharedmem.handed_globals(node_text(args, self.text), node.start_byte, self.assigned, shadowed):
            f.handed.append(sharedmem.Handed(shadowed[g], g, prim[0], f.name, f.file, node.start_point[0] + 1))


def _call(f: _Function, node: Node, text: bytes, params: set, handing: _Handing) -> None:
    """One call in a function's body: direct (and what it hands over), through a member, or indirect."""
    callee = node.child_by_field_name("function")
    args = node.child_by_field_name("arguments")
    first = ""
    if args is not None and args.named_child_count:
        first = node_text(args.named_children[0], text)
    if callee is not None and callee.type == "identifier" and node_text(callee, text) not in params:
        f.calls.append((node_text(callee, text), node.start_point[0] + 1, first))
        prim = _primitive(node_text(callee, text), first)
        if prim is not None:
            handing.handed(f, node, args, prim)
    elif callee is not None and callee.type == "field_expression":
        f.member_calls.append((re.sub(r"\s+", "", node_text(callee, text)), node.start_point[0] + 1))
    else:
        f.indirect.append(node.start_point[0] + 1)


def _struct_locals(fn_node: Node, text: bytes) -> dict:
    """{local or parameter: struct tag, or None for one of another type}: a local hides a global."""
    out: dict = {}
    stack = [fn_node.child_by_field_name("declarator"), fn_node.child_by_field_name("body")]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        if node.type in ("declaration", "parameter_declaration"):
            tagged = sharedmem.declared_structs(node, text)
            for d in node.children_by_field_name("declarator"):
                ident = innermost_identifier(d)
                if ident is not None:
                    out[node_text(ident, text)] = tagged.get(node_text(ident, text))
        stack.extend(node.children)
    return out


def _primitive(callee: str, first_arg: str) -> tuple[str, bool] | None:
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


@dataclass
class RomCalls:
    """VMI's ROM calls as the backend binds them (see the module's docstring)."""

    fill_macros: dict = field(default_factory=dict)   # macro -> index of the argument naming the call
    pointers: dict = field(default_factory=dict)      # 'vmi_ops.set_pte' -> {(call, guard expression)}
    config: dict | None = None       # an ABI's configuration: bindings whose guard it makes false drop out

    def calls_of(self, pointer: str) -> list[str]:
        return sorted({call for call, guard in self.pointers.get(pointer, ())
                       if self.config is None or evaluate(guard, self.config)[0] is not False})

    def guarded_by(self, symbol: str) -> bool:
        """Whether some binding exists only under symbol: '#ifdef CONFIG_X86_PAE ... SetPxELong'."""
        return any(guard and f"defined({symbol})" in guard and f"!defined({symbol})" not in guard
                   for bindings in self.pointers.values() for _, guard in bindings)


_PASTE = re.compile(r"\bVMI_CALL_\s*##\s*(\w+)")
_MEMBER_SET = re.compile(r"\b(\w+)\.(\w+)\s*=")
_GETTER = re.compile(rb"\b(\w+)\.(\w+)\s*=\s*\w+\(\s*VMI_CALL_(\w+)\s*\)")


def rom_calls(tree: KernelTree, files: list[str | Any]) -> RomCalls:
    """The ROM-call bindings of the backend's files (empty for a backend that has none)."""
    rom = RomCalls()
    wraps: dict = {}    # macro -> (index of the call argument, index of the pointer argument, struct)
    texts = []
    for rel in files:
        try:
            data = tree.read(rel)
        except SkippedFile:
            continue
        if b"VMI_CALL_" not in data:
            continue
        pre = preprocess(data)
        texts.append((rel, pre))
        for d in pre.defines:
            _fill_macro(rom, wraps, d)
    for rel, pre in texts:
        _rom_pointers(rom, wraps, pre)
    return rom


def _fill_macro(rom: RomCalls, wraps: dict, d: Define) -> None:
    """A #define that pastes its parameter into a ROM call's name (VMI_CALL_##x): a fill macro,
    and a wrapper of ROM calls when it caches the entry in a pointer."""
    m = _PASTE.search(d.body)
    if not d.params or m is None or m.group(1) not in d.params:
        return
    index = d.params.index(m.group(1))
    rom.fill_macros[d.name] = index
    # The pointer it caches the entry in: not the op it fills ('paravirt_ops.opname = wrapper').
    member = next((mm for mm in _MEMBER_SET.finditer(d.body)
                   if mm.group(2) in d.params and not is_table_name(mm.group(1))), None)
    if member is not None:
        wraps[d.name] = (index, d.params.index(member.group(2)), member.group(1))


def _rom_pointers(rom: RomCalls, wraps: dict, pre: Preprocessed) -> None:
    """The pointers a file binds to ROM calls: by the getter, or through a wrapping macro."""
    from pvscan.facts.ctext import Rows, split_args

    rows = Rows(pre.text)
    for m in _GETTER.finditer(pre.text):
        row = rows.at(m.start())
        rom.pointers.setdefault(f"{m.group(1).decode()}.{m.group(2).decode()}", set()).add(
            (m.group(3).decode(), guard_expression(pre.guard_at(row))))
    for name, (call_index, pointer_index, struct) in wraps.items():
        for m in re.finditer(rf"\b{re.escape(name)}\s*\(".encode(), pre.text):
            args, _ = split_args(pre.text, m.end() - 1)
            if args is None or len(args) <= max(call_index, pointer_index):
                continue
            row = rows.at(m.start())
            rom.pointers.setdefault(f"{struct}.{args[pointer_index].strip()}", set()).add(
                (args[call_index].strip(), guard_expression(pre.guard_at(row))))


def filled_rom_call(rom: RomCalls, function: str) -> str | None:
    """The ROM call of an implementation that is a fill macro's use: 'para_fill(pv_cpu_ops.clts, CLTS)'."""
    m = re.match(r"^(\w+)\((.*)\)$", function.strip(), re.S)
    if m is None or m.group(1) not in rom.fill_macros:
        return None
    args = [a.strip() for a in m.group(2).split(",")]
    index = rom.fill_macros[m.group(1)]
    return args[index] if index < len(args) and re.fullmatch(r"\w+", args[index]) else None


def trace(graph: dict[str, _Function], function: str, max_depth: int = MAX_DEPTH, rom: RomCalls | None = None
          ) -> tuple[list[Reach], list[Step]]:
    """Every hypercall reachable from function, with its chain; and the indirect calls met."""
    if function not in graph:
        return [], []
    reaches: dict[tuple[str, bool], Reach] = {}
    indirect: list[Step] = []
    start = graph[function]
    queue: deque[tuple[_Function, tuple[Step, ...], int]] = deque(
        [(start, (Step(start.name, start.file, start.line),), 0)])
    seen = {function}
    while queue:
        fn, chain, depth = queue.popleft()
        _reached_in(fn, chain, rom, reaches, indirect)
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


def _reached_in(fn: _Function, chain: tuple, rom: RomCalls | None, reaches: dict, indirect: list) -> None:
    """What fn itself reaches, not through its direct calls: ROM calls through the pointers it
    calls, its own hypercalls and vmcalls; and the indirect calls it makes."""
    for line in fn.indirect:
        indirect.append(Step(fn.name, fn.file, line))
    for pointer, line in fn.member_calls:
        calls = rom.calls_of(pointer) if rom is not None else []
        if not calls:
            indirect.append(Step(fn.name, fn.file, line))
        for call in calls:
            reaches.setdefault((call, False), Reach(call, chain + (Step(pointer, fn.file, line),)))
    for name, line, instruction in fn.hypercalls:
        reaches.setdefault((name, False), Reach(name, chain + (Step(instruction, fn.file, line),)))
    for line in fn.asm_vmcall:
        reaches.setdefault(("vmcall", False), Reach("vmcall", chain + (Step(fn.name, fn.file, line),)))


@dataclass
class Glue:
    """A backend's glue as read: its files, call graph and ROM-call bindings."""

    backend: str
    arch: str
    files: list[str]
    graph: dict[str, _Function]
    rom: RomCalls


def read_glue(tree: KernelTree, inventory: Inventory, backend: str, config: dict | None = None,
              arch: str | None = None) -> Glue:
    """The backend's glue on one architecture (backend_arch's when None): Xen's ia64 glue of
    2.6.32 defines functions of the same names as its x86 glue. config: the ABI's, when
    checking against one (a ROM binding or a definition under a guard it makes false drops out)."""
    arch = arch or backend_arch(inventory, backend)
    files = backend_files(tree, inventory, backend, arch)
    rom = rom_calls(tree, files)
    rom.config = config
    return Glue(backend, arch, files, call_graph(tree, files, config, arch), rom)


def derive(tree: KernelTree, inventory: Inventory, backend: str, config: dict | None = None, glue: Glue | None = None,
           arch: str | None = None):
    """{op name: [Reach]} for every op the backend implements on the arch, and the files read.
    config: the ABI's, when checking against one (a ROM binding under a false guard is not reached)."""
    glue = glue or read_glue(tree, inventory, backend, config, arch)
    out = {}
    for op in inventory.ops:
        reaches: dict[str, Reach] = {}
        for impl in op.implementations:
            if impl.backend != backend or not on_arch(impl.file, glue.arch):
                continue
            call = filled_rom_call(glue.rom, impl.function)
            if call is not None:
                reaches.setdefault(call, Reach(call, (Step(impl.function, impl.file, impl.line),)))
            for r in trace(glue.graph, impl.function, rom=glue.rom)[0]:
                reaches.setdefault(r.hypercall, r)
        if any(i.backend == backend and on_arch(i.file, glue.arch) for i in op.implementations):
            out[op.name] = sorted(reaches.values(), key=lambda r: r.hypercall)
    return out, glue.files

