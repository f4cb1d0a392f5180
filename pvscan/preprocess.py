"""Stage 2a: make kernel C digestible for tree-sitter without moving a byte.

tree-sitter parses one C text; kernel files are many texts braided by the
preprocessor. Left alone, a directive inside a struct body or a designated
initializer, or an annotation macro such as __initconst, becomes an ERROR
node that swallows or misnames the entry after it. So, before parsing:

* every directive line (with its continuation lines) is blanked to spaces,
  so all branches of an #if stay in the text, and the conditions are kept
  aside as a guard per line;
* annotation macros are blanked to spaces;
* #if 0 blocks are blanked whole: that code is in no kernel.

Blanking keeps every byte offset and line number, so what the parser
reports points at the real source. Object-like and function-like macro
definitions are kept aside too, with their bodies, for the stages that need
them (macro wrappers, fill macros, value aliases).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Kernel annotation macros that carry no meaning for the ops and that
# tree-sitter cannot place. Bare ones are blanked as words, the ones with an
# argument list are blanked together with it.
ANNOTATIONS = frozenset("""
__init __exit __initconst __initdata __exitdata __refdata __refconst __ref
__init_or_module __meminit __meminitdata __cpuinit __cpuinitdata __devinit
__ro_after_init __read_mostly __no_randomize_layout __randomize_layout
__always_inline __noinline noinline __noinline_for_stack noinstr __noendbr
__cpuidle __visible asmlinkage __must_check notrace __maybe_unused __used
__always_unused __weak __cold __hot __flatten __noreturn __packed __pure
__percpu __user __iomem __rcu __force __kprobes __nocfi __nostackprotector
__cacheline_aligned __cacheline_aligned_in_smp ____cacheline_aligned
____cacheline_aligned_in_smp __page_aligned_data __page_aligned_bss
__initdata_or_meminit __latent_entropy __bpf_kfunc __attribute_used__
__init_refok __lockfunc __sched __irq_entry __head __nostackprotector
fastcall FASTCALL_ATTR __safe __private __must_hold __acquires __releases
""".split())
ANNOTATIONS_WITH_ARGS = frozenset("""
__attribute__ __attribute __aligned __section __alias __printf __scanf
__alloc_size __diag_ignore __must_hold __acquires __releases __cond_lock
__counted_by __nonstring __designated_init __malloc __assume_aligned
__no_sanitize_address __no_kcsan __no_sanitize_or_inline __used_section
""".split())

_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*([a-z_]*)")
# Names whose tests separate C from assembler, not one configuration from another.
_NON_CONFIG = re.compile(r"^!?defined\((__ASSEMBLY__|__ASSEMBLER__)\)$")


@dataclass(frozen=True)
class Define:
    name: str
    params: tuple[str, ...] | None  # None for an object-like macro
    body: str                       # continuation backslashes blanked, comments kept
    line: int                       # 1-based line of the '#define'
    body_offset: int                # byte offset of the body in the file
    guard: tuple[str, ...]


@dataclass(frozen=True)
class Preprocessed:
    text: bytes                      # same length as the source, directives blanked
    guards: tuple[tuple[str, ...], ...]   # guard terms per 0-based line
    defines: tuple[Define, ...]
    problems: tuple[tuple[int, str], ...]  # (line, message): unbalanced #if/#endif

    def guard_at(self, row: int) -> tuple[str, ...]:
        if 0 <= row < len(self.guards):
            return self.guards[row]
        return ()


def guard_expression(terms) -> str | None:
    """The conjunction of guard terms as one C preprocessor expression."""
    terms = [t for t in dict.fromkeys(terms) if t]
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    return " && ".join(_parenthesize(t) for t in terms)


def _parenthesize(term: str) -> str:
    if _is_atom(term):
        return term
    return f"({term})"


def _is_atom(term: str) -> bool:
    if re.fullmatch(r"!?defined\([A-Za-z0-9_]+\)|[A-Za-z0-9_]+", term):
        return True
    if term.startswith("!(") and _closing_paren(term, 1) == len(term) - 1:
        return True
    depth = 0
    for i, ch in enumerate(term):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (term.startswith(("&&", "||", "?"), i)):
            return False
    return "&&" not in term and "||" not in term and "?" not in term


def _closing_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def negate(term: str) -> str:
    if term.startswith("!defined(") and _is_atom(term):
        return term[1:]
    if term.startswith("defined(") and _is_atom(term):
        return "!" + term
    if term == "0":
        return "1"
    if term == "1":
        return "0"
    return f"!({term})"


def _normalize_condition(expr: str) -> str:
    expr = re.sub(r"/\*.*?\*/", " ", expr)
    expr = re.sub(r"//.*", "", expr)
    expr = re.sub(r"\bdefined\s*\(\s*([A-Za-z0-9_]+)\s*\)", r"defined(\1)", expr)
    expr = re.sub(r"\bdefined\s+([A-Za-z0-9_]+)", r"defined(\1)", expr)
    expr = " ".join(expr.split())
    return expr


class _Frame:
    __slots__ = ("branch_conds", "term", "dead", "transparent", "line")

    def __init__(self, cond: str, line: int, transparent: bool = False):
        self.branch_conds = [cond]
        self.term = cond
        self.dead = cond == "0"
        self.transparent = transparent
        self.line = line


def preprocess(source: bytes) -> Preprocessed:
    lines = source.split(b"\n")
    out = bytearray(source)
    guards: list[tuple[str, ...]] = []
    defines: list[Define] = []
    problems: list[tuple[int, str]] = []
    stack: list[_Frame] = []
    include_guard = _include_guard(lines)

    in_comment = False
    offset = 0
    row = 0
    n = len(lines)
    while row < n:
        line = lines[row]
        line_start = offset
        current = _current_guard(stack)
        m = None if in_comment else _DIRECTIVE.match(line)
        if m is None:
            guards.append(current)
            if _dead(stack):
                _blank(out, line_start, len(line))
            in_comment = _comment_state_after(line, in_comment)
            offset += len(line) + 1
            row += 1
            continue

        # A directive: gather its continuation lines.
        first_row = row
        parts = [line]
        end = offset + len(line)
        while parts[-1].rstrip(b" \t\r").endswith(b"\\") and row + 1 < n:
            row += 1
            parts.append(lines[row])
            end += 1 + len(lines[row])
        _blank(out, line_start, end - line_start)
        for _ in parts:
            guards.append(current)
        offset = end + 1
        row += 1

        keyword = m.group(1).decode()
        rest_bytes = b"\n".join(parts)[m.end():]
        rest = _join_continuations(rest_bytes.decode("utf-8", "replace"))
        if keyword in ("if", "ifdef", "ifndef"):
            if keyword == "ifdef":
                cond = f"defined({_first_word(rest)})"
            elif keyword == "ifndef":
                cond = f"!defined({_first_word(rest)})"
            else:
                cond = _normalize_condition(rest)
            stack.append(_Frame(cond, first_row + 1, transparent=(first_row == include_guard)))
        elif keyword in ("elif", "else"):
            if not stack:
                problems.append((first_row + 1, f"#{keyword} without #if"))
                continue
            frame = stack[-1]
            previous = [negate(c) for c in frame.branch_conds]
            if keyword == "elif":
                cond = _normalize_condition(rest)
                frame.branch_conds.append(cond)
                frame.term = guard_expression(previous + [cond]) or cond
                frame.dead = cond == "0" or "1" in frame.branch_conds[:-1]
            else:
                frame.term = guard_expression([c for c in previous if c != "1"]) or "1"
                frame.dead = "1" in frame.branch_conds
        elif keyword == "endif":
            if not stack:
                problems.append((first_row + 1, "#endif without #if"))
                continue
            stack.pop()
        elif keyword == "define" and not _dead(stack):
            d = _parse_define(source, line_start, rest_bytes, m.end(), first_row + 1, current)
            if d is not None:
                defines.append(d)
    for frame in stack:
        problems.append((frame.line, "#if without #endif"))

    # Annotations go last, on the text the directives left: a macro name in
    # a #define line is already blank.
    _blank_annotations(out)
    return Preprocessed(bytes(out), tuple(guards), tuple(defines), tuple(problems))


def _include_guard(lines) -> int | None:
    """Row of an '#ifndef X / #define X' include guard opening the file."""
    directive_rows = []
    in_comment = False
    for i, line in enumerate(lines):
        if not in_comment and _DIRECTIVE.match(line):
            directive_rows.append(i)
            if len(directive_rows) == 2:
                break
        elif line.strip() and not in_comment and not line.lstrip().startswith((b"/*", b"//", b"*")):
            return None
        in_comment = _comment_state_after(line, in_comment)
    if len(directive_rows) < 2:
        return None
    a = lines[directive_rows[0]].decode("utf-8", "replace").split()
    b = lines[directive_rows[1]].decode("utf-8", "replace").split()
    a = " ".join(a).replace("# ", "#").split()
    b = " ".join(b).replace("# ", "#").split()
    if len(a) >= 2 and len(b) >= 2 and a[0] == "#ifndef" and b[0] == "#define" and a[1] == b[1]:
        return directive_rows[0]
    return None


def _current_guard(stack) -> tuple[str, ...]:
    return tuple(
        f.term for f in stack
        if not f.transparent and f.term != "1" and not _NON_CONFIG.match(f.term)
    )


def _dead(stack) -> bool:
    return any(f.dead for f in stack)


def _first_word(text: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9_]+)", text)
    return m.group(1) if m else text.strip()


def _join_continuations(text: str) -> str:
    return re.sub(r"\\[ \t\r]*\n", " ", text)


def _blank(out: bytearray, start: int, length: int) -> None:
    for i in range(start, start + length):
        if out[i] not in (0x0A,):
            out[i] = 0x20


def _comment_state_after(line: bytes, in_comment: bool) -> bool:
    i = 0
    n = len(line)
    quote = 0
    while i < n:
        c = line[i]
        if in_comment:
            if c == 0x2A and i + 1 < n and line[i + 1] == 0x2F:
                in_comment = False
                i += 2
                continue
        elif quote:
            if c == 0x5C:
                i += 2
                continue
            if c == quote:
                quote = 0
        else:
            if c == 0x2F and i + 1 < n:
                if line[i + 1] == 0x2A:
                    in_comment = True
                    i += 2
                    continue
                if line[i + 1] == 0x2F:
                    return False
            if c in (0x22, 0x27):
                quote = c
        i += 1
    return in_comment


_DEFINE_HEAD = re.compile(rb"[ \t]*([A-Za-z_][A-Za-z0-9_]*)(\(([^)]*)\))?")


def _parse_define(source, line_start, rest_bytes, rest_start, line_no, guard):
    m = _DEFINE_HEAD.match(rest_bytes)
    if not m:
        return None
    name = m.group(1).decode()
    params = None
    if m.group(2) is not None:
        params = tuple(p.strip() for p in m.group(3).decode("utf-8", "replace").split(",") if p.strip())
    body_rel = m.end()
    body_offset = line_start + rest_start + body_rel
    body = rest_bytes[body_rel:].decode("utf-8", "replace")
    # Keep the body's shape (same length) so that positions map back.
    body = re.sub(r"\\(?=[ \t\r]*\n)", " ", body)
    return Define(name, params, body, line_no, body_offset, guard)


def _blank_annotations(out: bytearray) -> None:
    text = bytes(out)
    for m in _WORD.finditer(text):
        word = m.group(0).decode()
        if word in ANNOTATIONS:
            _blank(out, m.start(), m.end() - m.start())
        elif word in ANNOTATIONS_WITH_ARGS:
            end = _balanced_parens_end(text, m.end())
            if end is not None:
                _blank(out, m.start(), end - m.start())


def _balanced_parens_end(text: bytes, pos: int) -> int | None:
    i = pos
    n = len(text)
    while i < n and text[i] in b" \t\n\r":
        i += 1
    if i >= n or text[i] != 0x28:
        return None
    depth = 0
    while i < n:
        c = text[i]
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None
