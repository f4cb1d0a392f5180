"""Pass 2: call sites and wrappers, from the PVOP_* uses and the references to the tables.

A call site is a PVOP_* use, a direct call through the table, an asm
reference or a read; the function or macro around a call (not a read) is
the op's wrapper: write_cr3() for mmu.write_cr3.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.errors import Warning_
from pvscan.facts.preprocess import guard_expression
from pvscan.inventory.model import CallSite, Wrapper
from pvscan.naming import PVOP_MACRO_RE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pvscan.facts.model import FileFacts, MacroCall, SymbolRef
    from pvscan.inventory.tables import OpDecl, TableModel


@dataclass(frozen=True)
class Sites:
    """The call sites and wrappers of each op."""

    call_sites: dict             # op key -> tuple[CallSite], in the order found
    wrappers: dict               # op key -> tuple[Wrapper], sorted
    warnings: tuple[Warning_, ...]
    # arch -> the forms its PVOP_* uses name ops in: FORM_OP 'PVOP_VCALL1(mmu.write_cr3, x)'
    # (2.6.20-6.x) or FORM_TABLE_OP 'PVOP_VCALL1(pv_ops_lock, kick, cpu)' (7.x).
    forms: dict[str, frozenset[str]] = field(default_factory=dict)
    # PVOP_* uses outside macro definitions that name no op of a table: (file, line, macro, op text).
    unplaced: tuple = ()


FORM_OP = "PVOP_*(op)"
FORM_TABLE_OP = "PVOP_*(table, op)"


def find_call_sites(facts: Sequence[FileFacts], model: TableModel) -> Sites:
    """Each op's call sites (asm references, PVOP_* macro calls, C references) and the functions
    that wrap them, with what could not be placed."""
    found = _SitesFound(model, _object_macros(facts), _offset_symbols(facts))
    for f in facts:
        found.symbol_refs(f)
        found.macro_calls(f)
        found.references(f)
    return found.sites_of()


class _SitesFound:
    """The call sites and wrappers found so far, file by file."""

    def __init__(self, model: TableModel, macros: dict, symbols: dict) -> None:
        self.model, self.macros, self.symbols = model, macros, symbols
        self.sites: dict = {}
        self.wrapper_of: dict = {}      # (arch, name, file) -> Wrapper: its first sighting defines it
        self.op_wrappers: dict = {}     # op key -> {(arch, name, file)}
        self.warnings: list[Warning_] = []
        self.where: dict = {}           # file path -> _Definitions, made at the file's first wrapper
        self.forms: dict[str, set[str]] = {}
        self.unplaced: list = []

    def note_wrapper(self, f: FileFacts, op: OpDecl, name: str | None, kind: str, line: int) -> None:
        if f.path not in self.where:
            self.where[f.path] = _Definitions(f)
        key = _wrapper(f, op, name, kind, line, self.wrapper_of, self.where[f.path])
        if key is not None:
            self.op_wrappers.setdefault(op.key, set()).add(key)

    def symbol_refs(self, f: FileFacts) -> None:
        for ref in f.symbol_refs:
            for op in _resolve_symbol(self.model, self.symbols, f.arch, ref):
                self.sites.setdefault(op.key, []).append(CallSite(
                    f.path, ref.line, "asm", None, None, None, None, ref.function, ref.function_kind,
                    guard_expression(ref.guard)))
                self.note_wrapper(f, op, ref.function, ref.function_kind, ref.line)

    def macro_calls(self, f: FileFacts) -> None:
        for mc in f.macro_calls:
            found, form = _macro_call_sites(f, mc, self.model, self.warnings, self.macros.get(f.arch, {}))
            for op, site in found:
                self.sites.setdefault(op.key, []).append(site)
                self.note_wrapper(f, op, mc.function, mc.function_kind, mc.line)
                if form is not None:
                    self.forms.setdefault(op.arch, set()).add(form)
            if not found and form is not None and mc.function_kind != "macro":
                self.unplaced.append((f.path, mc.line, mc.macro, ", ".join(mc.args[:3])))

    def references(self, f: FileFacts) -> None:
        for r in f.references:
            for op in self.model.resolve(f.arch, r.root, r.path):
                self.sites.setdefault(op.key, []).append(CallSite(
                    f.path, r.line, r.kind, None, None, None, None, r.function, r.function_kind,
                    guard_expression(r.guard)))
                if r.kind in ("call", "asm"):
                    self.note_wrapper(f, op, r.function, r.function_kind, r.line)

    def sites_of(self) -> Sites:
        wrappers = {key: tuple(sorted((self.wrapper_of[k] for k in keys), key=lambda w: (w.name, w.file, w.line)))
                    for key, keys in self.op_wrappers.items()}
        return Sites({k: tuple(v) for k, v in self.sites.items()}, wrappers, tuple(self.warnings),
                     {arch: frozenset(v) for arch, v in sorted(self.forms.items())}, tuple(self.unplaced))


def _offset_symbols(facts: Sequence[FileFacts]) -> dict:
    """{(arch, symbol): (struct tag, member path)} from the asm-offsets files: the
    assembler's name for an op's slot. A symbol given two meanings is left out."""
    found: dict = {}
    for f in facts:
        for symbol, tag, path, _line in f.offset_symbols:
            found.setdefault((f.arch, symbol), set()).add((tag, tuple(path.split("."))))
    return {key: next(iter(v)) for key, v in found.items() if len(v) == 1}


def _resolve_symbol(model: TableModel,
                    symbols: dict[tuple[str, str], tuple[str, tuple[str, str]] | tuple[str, tuple[str]]], arch: str,
                    ref: SymbolRef) -> list:
    """The op 'pv_ops+PV_IRQ_save_fl' reaches: the symbol's member path in the root named,
    when the root's struct is the one the symbol was taken in."""
    arches = [arch] if arch != "generic" else sorted({a for (a, _) in model.roots})
    out = []
    for a in arches:
        meaning = symbols.get((a, ref.symbol))
        root = model.roots.get((a, ref.root))
        if meaning is None or root is None or root.type != meaning[0]:
            continue
        out.extend(model.resolve(a, ref.root, meaning[1]))
    return out


def _object_macros(facts: Sequence[FileFacts]) -> dict:
    """{arch: {name: value}} of the object-like macros the files define, a generic file's for every
    arch; a name defined with two values is left out (which one holds depends on the configuration)."""
    values: dict = {}
    for f in facts:
        for a in f.aliases:
            values.setdefault((f.arch, a.name), set()).add(a.value)
    out: dict = {}
    for (arch, name), found in values.items():
        if len(found) == 1:
            out.setdefault(arch, {})[name] = next(iter(found))
    generic = out.pop("generic", {})
    return {arch: {**generic, **names} for arch, names in out.items()} | {"generic": generic}


def _expand(text: str | None, macros: dict) -> str | None:
    """text with a macro it names whole replaced by its value, a few levels deep."""
    for _ in range(8):
        if text is None or text not in macros or macros[text] == text:
            return text
        text = macros[text]
    return text


def _macro_call_sites(f: FileFacts, mc: MacroCall, model: TableModel, warnings: list[Warning_], macros: dict[str, str]):
    """([(op, CallSite)], form) of a PVOP_* use: no sites for a macro that is not one or names no
    op; the form is how the use names its op (None: not a PVOP_* use)."""
    m = PVOP_MACRO_RE.match(mc.macro)
    if not m:
        return _offset_macro_sites(f, mc, model), None
    alt, void, arity = bool(m.group(1)), bool(m.group(2)), int(m.group(4))
    args = list(mc.args)
    rettype = None
    if not void:
        if not args:
            return [], None
        rettype = args.pop(0)
    if not args:
        return [], None
    op_text = args.pop(0)
    form = FORM_OP
    if args and model.is_root(f.arch, op_text):
        # 7.x: the table comes first, 'PVOP_VCALL1(pv_ops_lock, kick, cpu)'.
        table, op_text, form = op_text, args.pop(0), FORM_TABLE_OP
        op_text = f"{table}.{op_text}"
    replacement = condition = None
    if alt:
        if len(args) < 2:
            warnings.append(Warning_(f.path, mc.line, f"{mc.macro} without its replacement and condition"))
            return [], form
        replacement, condition = args[-2], args[-1]
        args = args[:-2]
    ops = model.resolve_text(f.arch, op_text)   # none: the macro's own definitions ('op'), or no table we know
    if ops and len(args) != arity:
        warnings.append(Warning_(f.path, mc.line, f"{mc.macro} passes {len(args)} arguments to {ops[0].name}"))
    site = CallSite(f.path, mc.line, mc.macro, arity, rettype, replacement, condition, mc.function,
                    mc.function_kind, guard_expression(mc.guard), alt_condition_means=_expand(condition, macros))
    return [(op, site) for op in ops], form


def _offset_macro_sites(f: FileFacts, mc: MacroCall, model: TableModel) -> list[tuple[OpDecl, CallSite] | Any]:
    """[(op, CallSite)] of 'paravirt_type(save_fl)' in an asm operand list (2.6.22): the
    patch-site number of the op, so the asm around it calls the op."""
    index = dict(f.op_offset_macros).get(mc.macro)
    if index is None or index >= len(mc.args):
        return []
    site = CallSite(f.path, mc.line, "asm", None, None, None, None, mc.function, mc.function_kind,
                    guard_expression(mc.guard))
    return [(op, site) for op in model.resolve_text(f.arch, mc.args[index])]


class _Definitions:
    """Where a file defines each name and where each macro is first used, indexed once: a
    search of the whole file per wrapper was quadratic (a header of 100,000 inline wrappers)."""

    def __init__(self, f: FileFacts) -> None:
        self.lines: dict = {}
        for fn, fl in f.functions:
            self.lines.setdefault(fn, []).append(fl)
        for lines in self.lines.values():
            lines.sort()
        self.first_call: dict = {}       # macro -> the first line of a PVOP_* call in it
        self.first_reference: dict = {}  # macro -> the first line of a reference in it
        for items, first in ((f.macro_calls, self.first_call), (f.references, self.first_reference)):
            for item in items:
                first[item.function] = min(item.line, first.get(item.function, item.line))

    def above(self, name: str, line: int) -> int:
        """The line of the nearest definition of name at or above line (line when there is none)."""
        lines = self.lines.get(name, ())
        i = bisect.bisect_right(lines, line)
        return lines[i - 1] if i else line


def _wrapper(f: FileFacts, op: OpDecl, name: str | None, kind: str, line: int,
             wrapper_of: dict[tuple[str, str, str], Wrapper], defined: _Definitions) -> tuple[str, str, str] | None:
    """The key of the wrapper around a call, recording it at its first sighting; None outside any."""
    if not name or kind == "file":
        return None
    key = (op.arch, name, f.path)
    if key not in wrapper_of:
        # The definition holding the call: the nearest one of that name above it
        # (a header may define the name again for another configuration).
        def_line = defined.above(name, line)
        if kind == "macro":
            def_line = defined.first_call.get(name, line)
            if name in defined.first_reference:
                def_line = min(def_line, defined.first_reference[name])
        wrapper_of[key] = Wrapper(name, kind, f.path, def_line)
    return key
