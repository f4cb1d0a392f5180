"""Per-file facts: what one file says, independent of every other file.

parse.py produces a FileFacts per candidate file; pvscan.inventory joins them.
All are frozen and hold only strings, ints and tuples, so they pickle to
worker processes, hash for caches and sort for output.
"""

from __future__ import annotations

from dataclasses import dataclass

Guard = tuple[str, ...]          # conjunction of preprocessor conditions


@dataclass(frozen=True)
class Param:
    """One parameter of an op's signature."""

    type: str
    name: str | None


@dataclass(frozen=True)
class Member:
    """One member of a struct definition."""

    name: str
    line: int
    guard: Guard
    kind: str               # "fnptr" | "struct" | "data"
    type: str               # return type (fnptr), struct tag (struct), C type (data)
    params: tuple[Param, ...] = ()
    comment: str | None = None


@dataclass(frozen=True)
class StructDef:
    """A struct definition of the file, with its members."""

    name: str
    line: int
    guard: Guard
    members: tuple[Member, ...]


@dataclass(frozen=True)
class GlobalDecl:
    """A file-scope variable of a table type: 'extern struct pv_mmu_ops pv_mmu_ops;'."""

    name: str
    type_name: str          # struct tag, or the variable named by typeof()
    via_typeof: bool
    storage: str            # "extern" | "static" | ""
    line: int
    guard: Guard


@dataclass(frozen=True)
class InitEntry:
    """One designated entry of an initializer: '.mmu.set_pte = xen_set_pte'."""

    path: tuple[str, ...]   # designator path: ('mmu', 'lazy_mode', 'enter')
    value: str              # the value's text, whitespace folded
    line: int
    guard: Guard


@dataclass(frozen=True)
class Initializer:
    """A variable of a table type defined with a designated initializer."""

    name: str
    type_name: str
    via_typeof: bool
    storage: str
    line: int
    guard: Guard
    entries: tuple[InitEntry, ...]


@dataclass(frozen=True)
class Assignment:
    """'pv_ops.mmu.set_pte = xen_set_pte;' or 'pv_cpu_ops = xen_cpu_ops;'."""

    root: str
    path: tuple[str, ...]
    value: str
    line: int
    guard: Guard
    function: str | None    # enclosing function, or the macro it sits in
    macro_params: tuple[str, ...] | None = None  # set when inside a function-like macro


@dataclass(frozen=True)
class Reference:
    """A use of an op through its table: a direct call or a read."""

    root: str
    path: tuple[str, ...]
    kind: str               # "call" | "read"
    line: int
    guard: Guard
    function: str | None
    function_kind: str      # "function" | "macro" | "file"


@dataclass(frozen=True)
class MacroCall:
    """A use of a PVOP_* macro, or of a fill macro defined in the same file."""

    macro: str
    args: tuple[str, ...]
    line: int
    guard: Guard
    function: str | None
    function_kind: str


@dataclass(frozen=True)
class SymbolRef:
    """An op reached from assembly: 'call PARA_INDIRECT(pv_ops+PV_IRQ_save_fl)' in a macro."""

    root: str
    symbol: str
    line: int
    guard: Guard
    function: str | None
    function_kind: str


@dataclass(frozen=True)
class FillMacro:
    """A function-like macro that assigns an op from its arguments.

    VMI's '#define para_fill(opname, vmicall) ... paravirt_ops.opname = ...'
    (2.6.21) and '... opname = ...' (2.6.23 on): each use of it in the same
    file fills one op. target_root is the table the body names before the
    parameter, or None when the argument itself is the whole op reference.
    """

    name: str
    params: tuple[str, ...]
    target_root: str | None
    target_param: int
    value_param: int | None
    line: int


@dataclass(frozen=True)
class Alias:
    """An object-like macro: '#define PTE_IDENT __PV_IS_CALLEE_SAVE(_paravirt_ident_64)'."""

    name: str
    value: str


@dataclass(frozen=True)
class StaticCallDecl:
    """'DEFINE_STATIC_CALL(pv_steal_clock, native_steal_clock);', or a header's DECLARE_STATIC_CALL.

    The function named is the one it calls until a backend installs another; its type is the
    static call's type, so its declaration in the same file gives the signature."""

    name: str
    function: str
    defined: bool           # DEFINE_* (the storage, in a .c file) or DECLARE_*
    line: int
    guard: Guard
    return_type: str | None = None
    params: tuple[Param, ...] | None = None


@dataclass(frozen=True)
class StaticCallUse:
    """A use of a static call: 'static_call(pv_steal_clock)(cpu)' (call), 'static_call_query(...)'
    (read), 'static_call_update(pv_steal_clock, xen_steal_clock)' (update, with its value)."""

    name: str
    kind: str               # "call" | "read" | "update"
    value: str | None
    line: int
    guard: Guard
    function: str | None
    function_kind: str
    # update: the value is this parameter of the enclosing function, which then installs
    # whatever its callers pass ('paravirt_set_sched_clock(func)'): an installer.
    param_index: int | None = None


@dataclass(frozen=True)
class InstallerCall:
    """'paravirt_set_sched_clock(xen_sched_clock);': a call that may install a function."""

    callee: str
    args: tuple[str, ...]
    line: int
    guard: Guard
    function: str | None
    function_kind: str


@dataclass(frozen=True)
class FileFacts:
    """Everything the parse of one file found that an inventory is built from."""

    path: str
    arch: str
    structs: tuple[StructDef, ...] = ()
    globals: tuple[GlobalDecl, ...] = ()
    initializers: tuple[Initializer, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    references: tuple[Reference, ...] = ()
    macro_calls: tuple[MacroCall, ...] = ()
    aliases: tuple[Alias, ...] = ()
    fill_macros: tuple[FillMacro, ...] = ()
    functions: tuple[tuple[str, int], ...] = ()   # (name, line) of definitions
    # Struct tags a function-like macro takes an op's offset in, by parameter:
    # 'PARAVIRT_PATCH(x) (offsetof(struct paravirt_ops, x) / ...)'. What a
    # PVOP_* call passes as its op is a member path of that struct: a bare
    # 'write_cr0' in 2.6.20-22, 'pv_cpu_ops.write_cr0' in 2.6.23 on.
    op_offset_structs: tuple[str, ...] = ()
    # The function-like macros of this file that name an op by an argument, through
    # offsetof, directly or by passing it on: (('PARAVIRT_PATCH', 0), ('paravirt_type', 0)).
    # Their uses ('paravirt_type(save_fl)' in an asm operand list) are in macro_calls.
    op_offset_macros: tuple[tuple[str, int], ...] = ()
    # asm-offsets: 'OFFSET(PV_IRQ_save_fl, paravirt_patch_template, irq.save_fl)' makes
    # the assembler symbol the op's offset in that struct: (symbol, struct tag, path, line).
    offset_symbols: tuple[tuple[str, str, str, int], ...] = ()
    symbol_refs: tuple[SymbolRef, ...] = ()
    static_calls: tuple[StaticCallDecl, ...] = ()
    static_call_uses: tuple[StaticCallUse, ...] = ()
    installer_calls: tuple[InstallerCall, ...] = ()
    warnings: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Call:
    """A call of a wrapper by name, found by the callers pass."""

    callee: str
    path: str
    line: int
    function: str | None
    local_definition: bool = False   # the file defines a function or macro of that name
