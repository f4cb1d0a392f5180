"""Stage 2b: one candidate file -> FileFacts, with tree-sitter.

The text tree-sitter sees has gone through preprocess.py first; see there
why. Nothing here knows which tables exist: a file's facts are what the file
says about names that look like ops tables (candidates.TABLE_NAME), so they
can be cached by content and computed in any order, on any worker.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.facts.ctext import Rows, blank_annotations, fold, split_args
from pvscan.facts.model import (
    Alias,
    Assignment,
    FileFacts,
    FillMacro,
    GlobalDecl,
    InitEntry,
    Initializer,
    InstallerCall,
    MacroCall,
    Member,
    Param,
    Reference,
    StaticCallDecl,
    StaticCallUse,
    StructDef,
    SymbolRef,
)
from pvscan.facts.preprocess import Preprocessed, preprocess
from pvscan.facts.syntax import declarator_name, innermost_identifier, node_text, parse_tree
from pvscan.naming import (
    INSTALLER_CALL_RE,
    MENTIONS_TABLE_RE,
    PVOP_MACRO_RE,
    PVOP_USE_RE,
    STATIC_CALL_DEFINERS,
    STATIC_CALL_NAME_RE,
    STATIC_CALL_USES,
    TABLE_NAME,
    TABLE_NAME_RE,
    arch_of,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from tree_sitter import Node

    from pvscan.facts.model import Guard
    from pvscan.facts.preprocess import Define


_MACRO_PREFIX = b"void __pvscan_macro(void) {"
# The kinds of node read only in the file's own text, not in a macro's body parsed on its own.
_FILE_LEVEL = frozenset({"function_definition", "call_expression", "struct_specifier", "declaration"})
_IDENT_CALL_RE = re.compile(rb"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_ASM_OFFSET_RE = re.compile(rb"\bOFFSET\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
                            rb"\s*([A-Za-z_][A-Za-z0-9_.\s]*?)\s*\)")
_SYMBOL_REF_RE = re.compile(rf"\b({TABLE_NAME})\s*\+\s*([A-Za-z_][A-Za-z0-9_]*)\b".encode())
# Words before a function's return type that are not part of it.
_NOT_RETURN_TYPE = re.compile(r"\b(?:static|inline|extern|__always_inline|__inline__|__inline|noinstr|notrace|__init|"
                              r"__visible|__cpuidle|__noendbr|asmlinkage)\b")
_OFFSETOF_RE = re.compile(r"\boffsetof\s*\(\s*struct\s+([A-Za-z_][A-Za-z0-9_]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")


@dataclass
class _Uses:
    """Where a walk puts the uses of tables it finds: the file's own code, or one macro body."""

    references: list[Reference] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    # 'opname = (void *)rel->eip;' in a macro body: (parameter index, value text), last one last.
    parameter_targets: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _MacroBody:
    """What one #define body says: its uses of tables, its PVOP_* uses, and whether it fills an op."""

    uses: _Uses
    macro_calls: tuple[MacroCall, ...]
    fill: FillMacro | None


def parse_file(rel: str, data: bytes) -> FileFacts:
    pre = preprocess(data)
    extractor = _Extractor(rel, pre)
    extractor.run()
    return extractor.facts()


class _Extractor:
    def __init__(self, rel: str, pre: Preprocessed) -> None:
        self.rel = rel
        self.pre = pre
        self.text = pre.text
        self.structs: list[StructDef] = []
        self.globals: list[GlobalDecl] = []
        self.initializers: list[Initializer] = []
        self.uses = _Uses()
        self.macro_calls: list[MacroCall] = []
        self.aliases: list[Alias] = []
        self.fill_macros: list[FillMacro] = []
        self.functions: list[tuple[str, int]] = []
        self.function_spans: list[tuple[int, int, str]] = []   # (start_byte, end_byte, name)
        self.warnings = [(line, f"preprocessor: {msg}") for line, msg in pre.problems]
        self.fill_names: frozenset[str] = frozenset()
        self.op_offset_structs: list[str] = []
        self.offset_macros: dict[str, int] = {}      # name -> index of the parameter that names the op
        self.offset_symbols: list[tuple[str, str, str, int]] = []
        self.symbol_refs: list[SymbolRef] = []
        # (name, function, defined, line, guard): signatures come after the walk
        self.static_calls: list[tuple[str, str, bool, int, Guard]] = []
        self.static_call_uses: list[StaticCallUse] = []
        self.installer_calls: list[InstallerCall] = []
        self.declared: dict[str, Node] = {}           # function name -> its first definition or prototype node
        # (InstallerCall, ((arg index, parameter index), ...)) made with a parameter
        self.pending_installs: list[tuple[InstallerCall, list[tuple[int, int]]]] = []
        self.calls_by_name: dict[str, list[Node]] = {}   # callee -> [call_expression node], for the pending installs

    def facts(self) -> FileFacts:
        return FileFacts(
            path=self.rel,
            arch=arch_of(self.rel),
            structs=tuple(self.structs),
            globals=tuple(self.globals),
            initializers=tuple(self.initializers),
            assignments=tuple(self.uses.assignments),
            references=tuple(self.uses.references),
            macro_calls=tuple(sorted(self.macro_calls, key=lambda m: (m.line, m.macro, m.args))),
            aliases=tuple(self.aliases),
            fill_macros=tuple(self.fill_macros),
            functions=tuple(sorted(set(self.functions))),
            op_offset_structs=tuple(sorted(set(self.op_offset_structs))),
            op_offset_macros=tuple(sorted(self.offset_macros.items())),
            offset_symbols=tuple(sorted(set(self.offset_symbols))),
            symbol_refs=tuple(sorted(set(self.symbol_refs), key=lambda r: (r.line, r.root, r.symbol))),
            static_calls=tuple(StaticCallDecl(name, fn, defined, line, guard, *self._signature(fn))
                               for name, fn, defined, line, guard in self.static_calls),
            static_call_uses=tuple(self.static_call_uses),
            installer_calls=tuple(self.installer_calls),
            warnings=tuple(sorted(set(self.warnings))),
        )

    def guard(self, node: Node) -> tuple[str, ...]:
        return self.pre.guard_at(node.start_point[0])

    # -- the walk ---------------------------------------------------------

    def run(self) -> None:
        # Macro bodies first: they tell which macros fill ops, and the
        # arguments of those (like those of PVOP_*) are not reads of their own.
        for body in self._defines():
            self.uses.references.extend(body.uses.references)
            self.uses.assignments.extend(body.uses.assignments)
            self.macro_calls.extend(body.macro_calls)
            if body.fill is not None:
                self.fill_macros.append(body.fill)
        self.fill_names = frozenset(f.name for f in self.fill_macros)
        tree = parse_tree(self.text)
        self._walk(tree.root_node, self.text, row_offset=0, macro=None, uses=self.uses)
        self.function_spans.sort()
        self._local_installs()
        self._scan_macro_uses(self.text, 0, 0, None, fill_names=self.fill_names | set(self.offset_macros))
        rows = Rows(self.text)
        for m in _ASM_OFFSET_RE.finditer(self.text):
            if TABLE_NAME_RE.match(m.group(2).decode()):
                self.offset_symbols.append((m.group(1).decode(), m.group(2).decode(),
                                            re.sub(r"\s+", "", m.group(3).decode()), rows.at(m.start()) + 1))
        self._symbol_refs(self.text, 0, None)

    def _symbol_refs(self, text: bytes, base_row: int, macro: str | None) -> None:
        """'pv_cpu_ops+PV_CPU_iret': assembly reaching an op by its asm-offsets symbol."""
        rows = Rows(text)
        for m in _SYMBOL_REF_RE.finditer(text):
            row = rows.at(m.start())
            function, kind = (macro, "macro") if macro is not None else self._enclosing_at(m.start())
            if function is None:
                function, kind = _gas_macro_at(text, m.start())
            self.symbol_refs.append(SymbolRef(m.group(1).decode(), m.group(2).decode(), base_row + row + 1,
                                              self.pre.guard_at(base_row + row), function, kind))

    def _walk(self, root: Node, text: bytes, row_offset: int, macro: Any, uses: _Uses) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            t = node.type
            if macro is None and t in _FILE_LEVEL:
                self._file_level(node, t)
            elif t == "field_expression":
                parent = node.parent
                if not (parent is not None and parent.type == "field_expression"
                        and parent.child_by_field_name("argument") == node):
                    self._field_chain(node, text, row_offset, macro, uses)
            elif t == "assignment_expression":
                left = node.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    self._whole_table_assignment(node, left, text, row_offset, macro, uses)
            stack.extend(reversed(node.children))

    def _file_level(self, node: Node, t: str) -> None:
        """A node of the file's own text (not of a macro's body): a function definition, a call
        (a static call's), a struct, a declaration."""
        if t == "function_definition":
            name = declarator_name(node.child_by_field_name("declarator"))
            if name:
                self.functions.append((name, node.start_point[0] + 1))
                self.function_spans.append((node.start_byte, node.end_byte, name))
                self.declared.setdefault(name, node)
        elif t == "call_expression":
            self._static_call(node)
        elif t == "struct_specifier":
            body = node.child_by_field_name("body")
            name_node = node.child_by_field_name("name")
            if body is not None and name_node is not None:
                self._struct(node, name_node, body)
        else:
            self._declaration(node)
            self._prototype(node)

    # -- static calls (5.12 on) -------------------------------------------

    def _static_call(self, node: Node) -> None:
        """DEFINE/DECLARE_STATIC_CALL(pv_x, f), static_call*(pv_x ...), and installer-like calls."""
        callee = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        if callee is None or callee.type != "identifier" or args_node is None or not args_node.named_child_count:
            return
        name = node_text(callee, self.text)
        # Every call with arguments, by callee: a pending install is made through one of them.
        self.calls_by_name.setdefault(name, []).append(node)
        static = name in STATIC_CALL_DEFINERS or name in STATIC_CALL_USES
        if not static and not INSTALLER_CALL_RE.match(name):
            return
        args = [fold(node_text(a, self.text)) for a in args_node.named_children if a.type != "comment"]
        row = node.start_point[0]
        if static:
            if not args or not STATIC_CALL_NAME_RE.match(args[0]):
                return
            if name in STATIC_CALL_DEFINERS:
                if len(args) >= 2 and _IDENT_RE.fullmatch(args[1]):
                    self.static_calls.append((args[0], args[1], STATIC_CALL_DEFINERS[name], row + 1,
                                              self.pre.guard_at(row)))
                return
            kind = STATIC_CALL_USES[name]
            parent = node.parent
            if kind == "call" and not (parent is not None and parent.type == "call_expression"
                                       and parent.child_by_field_name("function") == node):
                kind = "read"     # the address of the trampoline, not a call through it
            value = args[1] if kind == "update" and len(args) >= 2 else None
            function, fkind = self._enclosing_at(node.start_byte)
            param = None
            if value is not None and _IDENT_RE.fullmatch(value):
                names = self._enclosing_params(node)
                param = names.index(value) if value in names else None
            self.static_call_uses.append(StaticCallUse(args[0], kind, value, row + 1, self.pre.guard_at(row),
                                                       function, fkind, param))
        elif any(_IDENT_RE.fullmatch(a) for a in args):
            function, fkind = self._enclosing_at(node.start_byte)
            call = InstallerCall(name, tuple(args), row + 1, self.pre.guard_at(row), function, fkind)
            params = self._enclosing_params(node)
            through = [(i, params.index(a)) for i, a in enumerate(args) if a in params]
            if through and function:
                # 'hv_setup_sched_clock(void *sched_clock) { paravirt_set_sched_clock(sched_clock); }':
                # what is installed is what this file's callers of the function pass.
                self.pending_installs.append((call, through))
            else:
                self.installer_calls.append(call)

    def _local_installs(self) -> None:
        """The installer calls made through a function of this file that passes its parameter
        on, as made at each call of that function here (with its argument)."""
        for call, through in self.pending_installs:
            if call.function is None:
                continue
            for node in self.calls_by_name.get(call.function, ()):
                args_node = node.child_by_field_name("arguments")
                if args_node is None:
                    continue
                outer = [fold(node_text(a, self.text)) for a in args_node.named_children if a.type != "comment"]
                args = list(call.args)
                for i, j in through:
                    if j < len(outer):
                        args[i] = outer[j]
                row = node.start_point[0]
                function, fkind = self._enclosing_at(node.start_byte)
                self.installer_calls.append(InstallerCall(call.callee, tuple(args), row + 1,
                                                          self.pre.guard_at(row), function, fkind))

    def _enclosing_params(self, node: Node | None) -> list[str | None]:
        """The parameter names of the function definition around node."""
        while node is not None and node.type != "function_definition":
            node = node.parent
        fd = _function_declarator(node.child_by_field_name("declarator")) if node is not None else None
        params = fd.child_by_field_name("parameters") if fd is not None else None
        if params is None:
            return []
        return [p.name for p in self._params(params)]

    def _signature(self, name: str) -> tuple:
        """(return type, params) of a function this file defines or declares, else (None, None):
        a static call's default function gives the static call its type."""
        node = self.declared.get(name)
        declarator = node.child_by_field_name("declarator") if node is not None else None
        fd = _function_declarator(declarator)
        params = fd.child_by_field_name("parameters") if fd is not None else None
        if node is None or declarator is None or params is None:
            return None, None
        stars = 0
        d: Node | None = declarator
        while d is not None and d.type == "pointer_declarator":
            stars += 1
            d = d.child_by_field_name("declarator")
        prefix = _NOT_RETURN_TYPE.sub(" ", self.text[node.start_byte:declarator.start_byte].decode("utf-8", "replace"))
        rettype = (fold(prefix) + " " + "*" * stars).strip()
        return rettype or None, self._params(params)

    def _prototype(self, node: Node) -> None:
        for d in node.children_by_field_name("declarator"):
            if _function_declarator(d) is not None:
                name = declarator_name(d)
                if name:
                    self.declared.setdefault(name, node)

    # -- struct definitions ---------------------------------------------

    def _struct(self, node: Node, name_node: Node, body: Node) -> None:
        members = []
        last_comment = None
        last_end_row = -1
        for child in body.children:
            if child.type == "comment":
                last_comment = child
                continue
            if child.type == "ERROR":
                self.warnings.append((child.start_point[0] + 1,
                                      f"cannot parse part of struct {node_text(name_node, self.text)}: "
                                      "members there may be missed"))
            if child.type != "field_declaration":
                continue
            comment = None
            if (last_comment is not None and last_comment.end_point[0] >= child.start_point[0] - 1
                    and last_comment.start_byte > last_end_row):
                comment = _comment_text(node_text(last_comment, self.text))
            members.extend(self._members(child, comment))
            last_end_row = child.end_byte
        self.structs.append(StructDef(
            name=node_text(name_node, self.text),
            line=node.start_point[0] + 1,
            guard=self.guard(node),
            members=tuple(members),
        ))

    def _members(self, decl: Node, comment: str | None) -> list[Member | Any]:
        type_node = decl.child_by_field_name("type")
        out = []
        declarators = decl.children_by_field_name("declarator")
        for d in declarators:
            line = d.start_point[0] + 1
            guard = self.pre.guard_at(d.start_point[0])
            fn = _function_pointer(d)
            if fn is not None:
                name_node, params_node, stars = fn
                prefix = fold(self.text[decl.start_byte:d.start_byte].decode("utf-8", "replace"))
                rettype = (prefix + " " + "*" * stars).strip() if stars else prefix
                rettype = rettype.replace("* ", "*")
                out.append(Member(node_text(name_node, self.text), line, guard, "fnptr",
                                  rettype, self._params(params_node), comment))
                continue
            name = declarator_name(d)
            if name is None:
                continue
            if (type_node is not None and type_node.type == "struct_specifier"
                    and d.type == "field_identifier"):
                tag = type_node.child_by_field_name("name")
                if tag is not None:
                    out.append(Member(name, line, guard, "struct", node_text(tag, self.text),
                                      (), comment))
                    continue
            ctype = fold(self.text[decl.start_byte:d.start_byte].decode("utf-8", "replace"))
            out.append(Member(name, line, guard, "data", ctype, (), comment))
        return out

    def _params(self, params_node: Node) -> tuple[Param, ...]:
        params = []
        for p in params_node.named_children:
            if p.type == "comment":
                continue
            if p.type == "variadic_parameter":
                params.append(Param("...", None))
                continue
            if p.type != "parameter_declaration":
                params.append(Param(fold(node_text(p, self.text)), None))
                continue
            decl = p.child_by_field_name("declarator")
            ident = innermost_identifier(decl) if decl is not None else None
            full = node_text(p, self.text)
            if ident is not None:
                a = ident.start_byte - p.start_byte
                b = ident.end_byte - p.start_byte
                raw = full.encode()
                type_text = (raw[:a] + raw[b:]).decode("utf-8", "replace")
                params.append(Param(_tidy_type(type_text), node_text(ident, self.text)))
            else:
                params.append(Param(_tidy_type(full), None))
        if len(params) == 1 and params[0].type == "void" and params[0].name is None:
            return ()
        return tuple(params)

    # -- declarations of table type -------------------------------------

    def _declaration(self, node: Node) -> None:
        type_node = node.child_by_field_name("type")
        if type_node is None:
            return
        type_name, via_typeof = _table_type(type_node, self.text)
        if type_name is None:
            return
        storage = ""
        for c in node.children:
            if c.type == "storage_class_specifier":
                word = node_text(c, self.text)
                if word in ("extern", "static"):
                    storage = word
        for d in node.children_by_field_name("declarator"):
            if d.type == "init_declarator":
                name = declarator_name(d.child_by_field_name("declarator"))
                value = d.child_by_field_name("value")
                if name is None:
                    continue
                if value is not None and value.type == "initializer_list":
                    entries: list[InitEntry] = []
                    self._initializer_entries(value, (), entries, name)
                    self.initializers.append(Initializer(
                        name, type_name, via_typeof, storage, d.start_point[0] + 1,
                        self.guard(node), tuple(entries)))
                else:
                    self.globals.append(GlobalDecl(name, type_name, via_typeof, storage,
                                                   d.start_point[0] + 1, self.guard(node)))
            else:
                name = declarator_name(d)
                if name is not None and d.type == "identifier":
                    self.globals.append(GlobalDecl(name, type_name, via_typeof, storage,
                                                   d.start_point[0] + 1, self.guard(node)))

    def _initializer_entries(self, init_list: Node, prefix: tuple[str, ...], out: list[InitEntry | Any],
                             owner: str) -> None:
        for child in init_list.named_children:
            if child.type == "comment":
                continue
            if child.type == "initializer_pair":
                path = list(prefix)
                ok = True
                for des in child.children_by_field_name("designator"):
                    if des.type == "field_designator":
                        path.append(node_text(des, self.text).lstrip(".").strip())
                    else:
                        ok = False
                value = child.child_by_field_name("value")
                if not ok or value is None:
                    self.warnings.append((child.start_point[0] + 1,
                                          f"initializer of {owner}: array designator not attributed"))
                    continue
                if value.type == "initializer_list":
                    self._initializer_entries(value, tuple(path), out, owner)
                else:
                    out.append(InitEntry(tuple(path), fold(node_text(value, self.text)),
                                         child.start_point[0] + 1, self.guard(child)))
            elif child.type == "ERROR":
                self.warnings.append((child.start_point[0] + 1,
                                      f"cannot parse part of the initializer of {owner}: "
                                      "entries there may be missed"))
            else:
                self.warnings.append((child.start_point[0] + 1,
                                      f"initializer of {owner}: positional entry not attributed"))

    # -- uses of tables in code ------------------------------------------

    def _field_chain(self, node: Node, text: bytes, row_offset: int, macro: Any, uses: _Uses) -> None:
        path: list[str] = []
        cur: Node | None = node
        while cur is not None and cur.type == "field_expression":
            op = cur.child_by_field_name("operator")
            if op is not None and node_text(op, text) != ".":
                return
            field = cur.child_by_field_name("field")
            if field is None:
                return
            path.append(node_text(field, text))
            cur = cur.child_by_field_name("argument")
        while cur is not None and cur.type == "parenthesized_expression" and cur.named_child_count == 1:
            cur = cur.named_children[0]
        if cur is None or cur.type != "identifier":
            return
        root = node_text(cur, text)
        if not TABLE_NAME_RE.match(root):
            return
        path.reverse()
        if self._is_macro_argument(node, text):
            return
        row = node.start_point[0] + row_offset
        line = row + 1
        guard = self.pre.guard_at(row)
        parent = node.parent
        function, kind = self._enclosing(node, macro)
        operator = parent.child_by_field_name("operator") if parent is not None else None
        if (parent is not None and parent.type == "assignment_expression"
                and parent.child_by_field_name("left") == node
                and operator is not None and node_text(operator, text) == "="):
            value = parent.child_by_field_name("right")
            uses.assignments.append(Assignment(
                root, tuple(path), fold(node_text(value, text)) if value is not None else "",
                line, guard, function, macro[1] if macro else None))
            return
        ref_kind = "read"
        if parent is not None and parent.type == "call_expression" and parent.child_by_field_name("function") == node:
            ref_kind = "call"
        elif _inside_asm(node):
            # '"m" (paravirt_ops.save_fl)' with 'call *%1' (2.6.2x): the asm
            # statement calls the op.
            ref_kind = "asm"
        uses.references.append(Reference(root, tuple(path), ref_kind, line, guard, function, kind))

    def _is_macro_argument(self, node: Node, text: bytes) -> bool:
        """An argument of PVOP_*() or of a fill macro: recorded as that macro's use."""
        parent = node.parent
        if parent is None or parent.type != "argument_list":
            return False
        call = parent.parent
        if call is None or call.type != "call_expression":
            return False
        fn = call.child_by_field_name("function")
        if fn is None or fn.type != "identifier":
            return False
        name = node_text(fn, text)
        return bool(PVOP_MACRO_RE.match(name)) or name in self.fill_names

    def _whole_table_assignment(self, node: Node, left: Node, text: bytes, row_offset: int, macro: Any,
                                uses: _Uses) -> None:
        root = node_text(left, text)
        right = node.child_by_field_name("right")
        op = node.child_by_field_name("operator")
        if right is None or op is None or node_text(op, text) != "=":
            return
        row = node.start_point[0] + row_offset
        if TABLE_NAME_RE.match(root):
            function, _ = self._enclosing(node, macro)
            uses.assignments.append(Assignment(root, (), fold(node_text(right, text)), row + 1,
                                               self.pre.guard_at(row), function,
                                               macro[1] if macro else None))
        elif macro is not None and root in macro[1]:
            # 'opname = (void *)rel->eip;' inside a fill macro whose
            # argument is the whole op reference (VMI, 2.6.23 on).
            uses.parameter_targets.append((macro[1].index(root), fold(node_text(right, text))))

    def _enclosing(self, node: Node, macro) -> tuple[str, str] | tuple[None, str]:
        if macro is not None:
            return macro[0], "macro"
        return self._enclosing_at(node.start_byte)

    def _enclosing_at(self, offset: int) -> tuple[str, str] | tuple[None, str]:
        i = bisect.bisect_right(self.function_spans, (offset, float("inf"), "")) - 1
        if i >= 0:
            start, end, name = self.function_spans[i]
            if start <= offset < end:
                return name, "function"
        return None, "file"

    # -- PVOP_* and fill macro uses -----------------------------------------

    def _scan_macro_uses(self, text: bytes, base_offset: int, base_row: int, macro,
                         fill_names: frozenset | None = None) -> None:
        regex = PVOP_USE_RE
        names = fill_names
        if names:
            alternatives = "|".join(re.escape(n) for n in names)
            regex = re.compile(rb"\b(PVOP_[A-Z0-9_]+|" + alternatives.encode() + rb")\s*\(")
        rows = Rows(text)
        for m in regex.finditer(text):
            name = m.group(1).decode()
            if not PVOP_MACRO_RE.match(name) and not (names and name in names):
                continue
            open_paren = m.end() - 1
            args, end = split_args(text, open_paren)
            if args is None:
                continue
            row = rows.at(m.start())
            if macro is not None:
                function, kind = macro, "macro"
            else:
                function, kind = self._enclosing_at(m.start())
            self.macro_calls.append(MacroCall(
                name, tuple(fold(a) for a in args), base_row + row + 1,
                self.pre.guard_at(base_row + row), function, kind))

    # -- #define bodies ------------------------------------------------------

    def _defines(self) -> list[_MacroBody]:
        """The bodies of the #defines that may hold wrappers or fill ops, each read on its own."""
        bodies = []
        self._find_offset_macros()
        for d in self.pre.defines:
            body = d.body.strip()
            if d.params is None and body and len(body) < 200 and "\n" not in body:
                self.aliases.append(Alias(d.name, fold(body)))
            # Bodies that name a table or a PVOP_* macro may hold wrappers;
            # any function-like macro may be a fill macro ('opname = ...').
            if not d.params and not MENTIONS_TABLE_RE.search(d.body) and not self._uses_offset_macro(d.body):
                continue
            bodies.append(self._define_body(d))
        return bodies

    def _find_offset_macros(self) -> None:
        """The macros that name an op by a parameter: 'PARAVIRT_PATCH(x) (offsetof(struct
        paravirt_ops, x) / sizeof(void *))', and those that pass a parameter on to one,
        'paravirt_type(type) [paravirt_typenum] "i" (PARAVIRT_PATCH(type))'."""
        defines = [(d, d.params) for d in self.pre.defines if d.params]
        for d, params in defines:
            for m in _OFFSETOF_RE.finditer(d.body):
                if m.group(2) in params and TABLE_NAME_RE.match(m.group(1)):
                    self.op_offset_structs.append(m.group(1))
                    self.offset_macros.setdefault(d.name, params.index(m.group(2)))
        changed = bool(self.offset_macros)
        while changed:
            changed = False
            for d, params in defines:
                if d.name in self.offset_macros:
                    continue
                for name, arg in self._offset_macro_args(d.body.encode("utf-8", "replace")):
                    if arg in params:
                        self.offset_macros[d.name] = params.index(arg)
                        changed = True
                        break

    def _offset_macro_args(self, text: bytes) -> Iterator[tuple[str, str]]:
        """(macro, the argument naming the op) of each use of an offset macro in text."""
        if not self.offset_macros:
            return
        for m in _IDENT_CALL_RE.finditer(text):
            name = m.group(1).decode()
            if name not in self.offset_macros:
                continue
            args, _ = split_args(text, m.end() - 1)
            if args is not None and len(args) > self.offset_macros[name]:
                yield name, fold(args[self.offset_macros[name]])

    def _uses_offset_macro(self, body: str) -> bool:
        return any(True for _ in self._offset_macro_args(body.encode("utf-8", "replace")))

    def _define_body(self, d: Define) -> _MacroBody:
        body = bytearray(d.body.encode("utf-8", "replace"))
        blank_annotations(body)
        source = _MACRO_PREFIX + bytes(body) + b";}\n"
        source_rows = Rows(source)
        tree = parse_tree(source)
        macro = (d.name, d.params or ())
        uses = _Uses()
        self._walk(tree.root_node, source, d.line - 1, macro, uses)
        # PVOP_ uses inside the macro body: the macro is the wrapper.
        macro_calls = []
        for m in PVOP_USE_RE.finditer(source):
            name = m.group(1).decode()
            if not PVOP_MACRO_RE.match(name):
                continue
            args, _ = split_args(source, m.end() - 1)
            if args is None:
                continue
            row = source_rows.at(m.start())
            macro_calls.append(MacroCall(name, tuple(fold(a) for a in args), d.line + row,
                                         self.pre.guard_at(d.line - 1 + row), d.name, "macro"))
        # Uses of an offset macro naming an op ('PARAVIRT_PATCH(irq_disable)'); one passing
        # on a parameter of this macro is part of its definition, not a use.
        for m in _IDENT_CALL_RE.finditer(source):
            name = m.group(1).decode()
            if name not in self.offset_macros or name == d.name:
                continue
            args, _ = split_args(source, m.end() - 1)
            if args is None or len(args) <= self.offset_macros[name]:
                continue
            if fold(args[self.offset_macros[name]]) in (d.params or ()):
                continue
            row = source_rows.at(m.start())
            macro_calls.append(MacroCall(name, tuple(fold(a) for a in args), d.line + row,
                                         self.pre.guard_at(d.line - 1 + row), d.name, "macro"))
        self._symbol_refs(d.body.encode("utf-8", "replace"), d.line - 1, d.name)
        fill, by = _fill_macro(d, uses) if d.params else (None, None)
        if by is not None:
            # The assignment that makes it a fill macro is the macro's, not a use of its own.
            uses = _Uses(uses.references, [a for a in uses.assignments if a is not by])
        return _MacroBody(uses, tuple(macro_calls), fill)


_GAS_MACRO_RE = re.compile(rb"^[ \t]*\.(macro[ \t]+([A-Za-z_][A-Za-z0-9_]*)|endm)\b", re.M)


def _gas_macro_at(text: bytes, offset: int) -> tuple[str | None, str]:
    """(name, "macro") of the assembler '.macro NAME ... .endm' around offset, else (None, "file")."""
    name = None
    for m in _GAS_MACRO_RE.finditer(text, 0, offset):
        name = m.group(2).decode() if m.group(2) else None
    return (name, "macro") if name else (None, "file")


def _fill_macro(d: Define, uses: _Uses) -> tuple[FillMacro | None, Assignment | None]:
    """(FillMacro, the assignment that makes it one), or (None, None).

    A fill macro assigns a table member named by a parameter
    ('paravirt_ops.opname = ...', 2.6.21) or a parameter that is the whole
    op reference ('opname = ...', 2.6.23 on).
    """
    params = d.params or ()
    for a in uses.assignments:
        if a.macro_params is not None and len(a.path) == 1 and a.path[0] in params:
            value_param = params.index(a.value) if a.value in params else None
            return FillMacro(d.name, params, a.root, params.index(a.path[0]), value_param, d.line), a
    if uses.parameter_targets:
        index, value = uses.parameter_targets[-1]
        value_param = params.index(value) if value in params else None
        return FillMacro(d.name, params, None, index, value_param, d.line), None
    return None, None


# -- helpers ------------------------------------------------------------------

def _inside_asm(node: Node) -> bool:
    cur = node.parent
    for _ in range(4):
        if cur is None:
            return False
        if cur.type in ("gnu_asm_input_operand", "gnu_asm_output_operand"):
            return True
        cur = cur.parent
    return False


_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _function_declarator(d: Node | None) -> Node | None:
    """The function_declarator of a function's own declarator ('f(int)', '*f(void)'), not of a
    function pointer's."""
    while d is not None and d.type == "pointer_declarator":
        d = d.child_by_field_name("declarator")
    if d is None or d.type != "function_declarator":
        return None
    inner = d.child_by_field_name("declarator")
    return d if inner is not None and inner.type == "identifier" else None


def _function_pointer(d: Node) -> tuple[Node, Node, int] | None:
    """(name node, parameter_list node, return-type pointer depth) of a function-pointer declarator."""
    stars = 0
    node: Node | None = d
    while node is not None and node.type == "pointer_declarator":
        stars += 1
        node = node.child_by_field_name("declarator")
    if node is None or node.type != "function_declarator":
        return None
    inner = node.child_by_field_name("declarator")
    params = node.child_by_field_name("parameters")
    if inner is None or inner.type != "parenthesized_declarator" or params is None:
        return None
    target = next((c for c in inner.named_children if c.type == "pointer_declarator"), None)
    if target is None:
        return None
    name = innermost_identifier(target)
    if name is None:
        return None
    return name, params, stars


def _table_type(type_node: Node, text: bytes) -> tuple[None, bool] | tuple[str, bool]:
    """(name, via_typeof) if the declared type is an ops table type."""
    if type_node.type == "struct_specifier":
        name = type_node.child_by_field_name("name")
        if name is not None:
            tag = node_text(name, text)
            if TABLE_NAME_RE.match(tag):
                return tag, False
        return None, False
    if type_node.type == "macro_type_specifier":
        fn = type_node.child_by_field_name("name")
        arg = type_node.child_by_field_name("type")
        if fn is not None and node_text(fn, text) in ("typeof", "__typeof__", "__typeof") and arg is not None:
            inner = fold(node_text(arg, text))
            if TABLE_NAME_RE.match(inner):
                return inner, True
    return None, False


def _tidy_type(text: str) -> str:
    t = fold(text)
    t = re.sub(r"\s*\*\s*", " *", t).strip()
    t = re.sub(r"\s+\[", "[", t)
    return t.replace("( *", "(*")


def _comment_text(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("/*"):
        raw = raw[2:]
    if raw.endswith("*/"):
        raw = raw[:-2]
    if raw.startswith("//"):
        raw = raw[2:]
    lines = [l.strip().lstrip("*").strip() for l in raw.splitlines()]
    return " ".join(l for l in lines if l)
