"""Assembly glue: the functions of a backend's .S files, for checks.glue's call graph.

Some implementations are written in assembly: lguest's lg_irq_enable and
lguest_iret (arch/x86/lguest/i386_head.S), Xen's xen_irq_enable_direct and
xen_iret (arch/x86/xen/xen-asm.S). A function starts at its entry
(ENTRY(name), SYM_FUNC_START(name), SYM_CODE_START(name) ...) and runs from
label to label: it falls through into the next label unless an instruction
ends the path (ret, iret, an unconditional jmp), and a jump to a label of the
file continues there. On each path pvscan records:

- hypercalls: the hypercall instruction (vmcall, vmmcall, or their .byte
  encodings; syscall and int $0x82 of Xen PV; lguest's trap) with the number
  the path last moved into %eax ($LHCALL_*, $KVM_HC_*, $__HYPERVISOR_*), and
  Xen's jump into its hypercall page (hypercall_page + __HYPERVISOR_x * 32);
- calls of other functions, which the call graph follows into C or assembly;
- the asm-offsets names it uses (XEN_vcpu_info_mask, LGUEST_DATA_irq_enabled),
  which the tree's asm-offsets*.c map to a struct's member: the fields of a
  shared area the assembly touches;
- the symbols it moves into a register before a hypercall ('movl $lguest_data
  - __PAGE_OFFSET, %ebx'): what the hypercall hands to the hypervisor.

A .macro without parameters is expanded where it is used (Xen's
xen_hypercall_iret); one with parameters is not, and its body is not read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re
from dataclasses import dataclass, field

from pvscan.source.files import SkippedFile

if TYPE_CHECKING:
    from pvscan.source.directory import KernelTree


_ENTRY = re.compile(r"^\s*(?:ENTRY|GLOBAL|SYM_FUNC_START|SYM_FUNC_START_LOCAL|SYM_FUNC_START_NOALIGN|"
                    r"SYM_CODE_START|SYM_CODE_START_LOCAL|SYM_CODE_START_NOALIGN|SYM_INNER_LABEL|"
                    r"SYM_INNER_LABEL_ALIGN|SYM_TYPED_FUNC_START)\(\s*(\w+)")
_LABEL = re.compile(r"^\s*(\w+):(?!:)")
_NUMERIC = re.compile(r"^\d+$")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_NUMBER = re.compile(r"\bmov[lq]?\s+\$(LHCALL_\w+|KVM_HC_\w+|__HYPERVISOR_\w+)\s*,\s*%[er]?ax\b")
_MOVE_SYMBOL = re.compile(r"\bmov[lq]?\s+\$([A-Za-z_]\w*)")
_TRAP = re.compile(r"^(?:vmcall|vmmcall|syscall|KVM_HYPERCALL|int\s+\$(?:0x82|LGUEST_TRAP_ENTRY|0x1f))\b|"
                   r"^\.byte\s+0x0f\s*,\s*0x01\s*,\s*0x(?:c1|d9)\b")
_PAGE = re.compile(r"^(?:call|jmp)\s+hypercall_page\s*\+\s*__HYPERVISOR_(\w+)")
_CALL = re.compile(r"^call\s+([A-Za-z_]\w*)\s*$")
_JUMP = re.compile(r"^(j\w+)\s+(\w+)\s*$")
_ENDS = re.compile(r"^(?:ret[lq]?|RET|iret[lq]?|sysexit|sysret[lq]?|ud2|jmp\s+\*|int3)\b|^jmp\s")
_OFFSET = re.compile(r"\bOFFSET\(\s*(\w+)\s*,\s*(\w+)\s*,\s*([\w.]+)\s*\)")
_MACRO = re.compile(r"^\s*\.macro\s+(\w+)\s*(.*)$")
_MAX_STEPS = 400


@dataclass
class AsmFunction:
    """What one assembly function does on its paths."""

    name: str
    file: str
    line: int
    hypercalls: list = field(default_factory=list)   # (hypercall name, line, instruction)
    calls: list = field(default_factory=list)        # (callee, line)
    offsets: list = field(default_factory=list)      # (asm-offsets name, line)
    handed: list = field(default_factory=list)       # (symbol moved into a register before a hypercall, hypercall, line)


def hypercall_name(symbol: str) -> str:
    """LHCALL_SEND_INTERRUPTS -> send_interrupts, KVM_HC_KICK_CPU -> kick_cpu, __HYPERVISOR_iret -> iret:
    the names checks.glue gives the same hypercalls reached from C."""
    for prefix in ("LHCALL_", "KVM_HC_"):
        if symbol.startswith(prefix):
            return symbol[len(prefix):].lower()
    return symbol.removeprefix("__HYPERVISOR_")


def asm_offsets(tree: KernelTree, arch: str) -> dict[str, tuple[str, str]]:
    """{asm-offsets name: (struct tag, top-level member)} from the arch's asm-offsets*.c:
    'OFFSET(XEN_vcpu_info_arch_cr2, vcpu_info, arch.cr2)' gives ('vcpu_info', 'arch')."""
    out: dict[str, tuple[str, str]] = {}
    dirs = [f"arch/{arch}/kernel"] + (["arch/i386/kernel", "arch/x86_64/kernel"] if arch == "x86" else [])
    for d in dirs:
        try:
            names = sorted(p.name for p in (tree.root / d).iterdir() if p.name.startswith("asm-offsets"))
        except OSError:
            continue
        for n in names:
            try:
                text = tree.read(f"{d}/{n}").decode("utf-8", "replace")
            except SkippedFile:
                continue
            for name, tag, member in _OFFSET.findall(text):
                out.setdefault(name, (tag, member.split(".")[0]))
    return out


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, statement) of the file, comments and preprocessor lines out; ';' splits statements."""
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("//")[0]
        if line.lstrip().startswith("#"):
            continue
        for statement in line.split(";"):
            if statement.strip():
                out.append((number, statement.strip()))
    return out


def _expand(lines):
    """The lines with parameterless macros expanded and every macro's definition dropped."""
    macros, body, name, out = {}, [], None, []
    for number, s in lines:
        m = _MACRO.match(s)
        if m:
            name, body = (m.group(1) if not m.group(2).strip() else ""), []
            continue
        if name is not None:
            if s.startswith(".endm"):
                if name:
                    macros[name] = body
                name = None
            else:
                body.append((number, s))
            continue
        word = s.split()[0]
        if word in macros:
            out.extend((number, t) for _, t in macros[word])
        else:
            out.append((number, s))
    return out


def read_asm(tree: KernelTree, rel: str) -> list[AsmFunction]:
    """The functions of one .S file."""
    try:
        text = tree.read(rel).decode("utf-8", "replace")
    except SkippedFile:
        return []
    lines = _expand(_lines(text))
    # Segments: each label starts one; (label, [(line, statement)]).
    segments: list[tuple[str, list]] = [("", [])]
    entries = []
    for number, s in lines:
        m = _ENTRY.match(s) or _LABEL.match(s)
        if m:
            label = m.group(1)
            segments.append((label, []))
            if _ENTRY.match(s) and not _NUMERIC.match(label):
                entries.append((label, number, len(segments) - 1))
            rest = s[m.end():].strip() if _LABEL.match(s) else ""
            if rest:
                segments[-1][1].append((number, rest))
            continue
        segments[-1][1].append((number, s))
    where = {label: i for i, (label, _) in enumerate(segments) if label and not _NUMERIC.match(label)}
    return [_walk(rel, name, number, start, segments, where) for name, number, start in entries]


def _instruction(statement: str) -> str:
    """The hypercall instruction as a reader names it: vmcall for its .byte spelling."""
    if statement.startswith(".byte"):
        return "vmmcall" if statement.rstrip().endswith("0xd9") else "vmcall"
    return "hypercall_page" if "hypercall_page" in statement else statement.split()[0]


def _target(label: str, here: int, segments, where) -> int | None:
    """The segment a jump goes to: a named label, or a numeric one ('1f', '2b') nearest that way."""
    m = re.fullmatch(r"(\d+)([fb])", label)
    if m is None:
        return where.get(label)
    order = range(here + 1, len(segments)) if m.group(2) == "f" else range(here, -1, -1)
    return next((i for i in order if segments[i][0] == m.group(1)), None)


def _walk(rel, name, number, start, segments, where) -> AsmFunction:
    """An assembly function from its first segment, followed through its jumps (each segment
    once, at most _MAX_STEPS): the hypercalls it makes, what it calls and the offsets it names."""
    fn = AsmFunction(name, rel, number)
    todo, seen, steps = [(start, None, ())], set(), 0
    while todo and steps < _MAX_STEPS:
        index, loaded, moved = todo.pop()
        if index in seen or index >= len(segments):
            continue
        seen.add(index)
        steps += 1
        ended = False
        for line, s in segments[index][1]:
            loaded, moved = _instruction_facts(fn, line, s, loaded, moved)
            jump = _JUMP.match(s)
            if jump:
                target = _target(jump.group(2), index, segments, where)
                if target is not None:
                    todo.append((target, loaded, moved))
            if _ENDS.match(s):
                ended = True
                break
        if not ended:
            todo.append((index + 1, loaded, moved))
    return fn


def _instruction_facts(fn: AsmFunction, line: int, s: str, loaded, moved: tuple) -> tuple:
    """What one instruction adds to fn (a hypercall, a call, the offsets it names); (the
    hypercall number loaded, the symbols moved into registers) after it."""
    m = _NUMBER.search(s)
    if m:
        loaded = m.group(1)
    m = _MOVE_SYMBOL.search(s)
    if m and not m.group(1).isupper():
        moved = moved + (m.group(1),)
    for token in re.findall(r"\b[A-Z][A-Z0-9]*_\w+\b", s):
        fn.offsets.append((token, line))
    page = _PAGE.match(s)
    if page or _TRAP.match(s):
        call = page.group(1) if page else (hypercall_name(loaded) if loaded else None)
        if call is None and not s.startswith(("syscall", "int")):
            call = "vmcall"
        if call is not None:
            fn.hypercalls.append((call, line, _instruction(s)))
            fn.handed.extend((symbol, call, line) for symbol in moved)
        moved = ()
    elif (m := _CALL.match(s)) is not None:
        fn.calls.append((m.group(1), line))
    return loaded, moved
