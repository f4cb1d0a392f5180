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

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.facts.ctext import blank, blank_annotations, closing_paren

if TYPE_CHECKING:
    from collections.abc import Iterable
    from re import Match


_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*([a-z_]*)((?:[^\n]*\\[ \t\r]*\n)*[^\n]*)", re.M)
_BLOCK_COMMENT = re.compile(rb"/\*.*?(?:\*/|\Z)", re.S)
_LINE_COMMENT_OR_STRING = re.compile(rb'//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
# Names whose tests separate C from assembler, not one configuration from another.
_NON_CONFIG = re.compile(r"^!?defined\((__ASSEMBLY__|__ASSEMBLER__)\)$")


@dataclass(frozen=True)
class Define:
    """A '#define' of the file, as written."""

    name: str
    params: tuple[str, ...] | None  # None for an object-like macro
    body: str                       # continuation backslashes blanked, comments kept
    line: int                       # 1-based line of the '#define'
    body_offset: int                # byte offset of the body in the file


class _Guard:
    """One #if nesting as a chain of terms, each level pointing at the one around it.

    A file with N nested #ifs has N guards of up to N terms: kept as a chain,
    they cost O(N) to build, and a guard becomes a tuple only when a line
    under it is asked for (guard_at), in O(its depth).
    """

    __slots__ = ("parent", "term", "_terms")

    def __init__(self, parent: _Guard | None, term: str) -> None:
        self.parent, self.term = parent, term
        self._terms: tuple[str, ...] | None = None

    def terms(self) -> tuple[str, ...]:
        if self._terms is None:
            out: list[str] = []
            node: _Guard | None = self
            while node is not None and node._terms is None:
                out.append(node.term)
                node = node.parent
            above = node._terms if node is not None and node._terms is not None else ()
            self._terms = above + tuple(reversed(out))
        return self._terms


@dataclass(frozen=True)
class Preprocessed:
    """A file with its directives blanked, and the #if guard of each of its rows."""

    text: bytes                      # same length as the source, directives blanked
    guard_rows: tuple[int, ...]      # first 0-based row of each guard segment
    guards: tuple                    # the _Guard (or None: unconditional) of each segment
    defines: tuple[Define, ...]
    problems: tuple[tuple[int, str], ...]  # (line, message): unbalanced #if/#endif

    def guard_at(self, row: int) -> tuple[str, ...]:
        """The conjunction of conditions around a 0-based row, outermost first."""
        i = bisect.bisect_right(self.guard_rows, row) - 1
        g = self.guards[i] if i >= 0 else None
        return g.terms() if g is not None else ()


def guard_expression(terms: Iterable[str | None]) -> str | None:
    """The conjunction of guard terms as one C preprocessor expression."""
    given = [t for t in dict.fromkeys(terms) if t]
    if not given:
        return None
    if len(given) == 1:
        return given[0]
    return " && ".join(_parenthesize(t) for t in given)


def guard_terms(expr: str | None) -> frozenset[str]:
    """The conjuncts of a guard: 'A && (B || C) && (D && E)' -> {A, B || C, D, E}; none for None."""
    if not expr:
        return frozenset()
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and expr.startswith("&&", i):
            terms.append(expr[start:i])
            start = i + 2
    terms.append(expr[start:])
    out: set[str] = set()
    for term in (t.strip() for t in terms):
        if term.startswith("(") and closing_paren(term, 0) == len(term) - 1:
            out |= guard_terms(term[1:-1])
        else:
            out.add(term)
    return frozenset(out)


def _parenthesize(term: str) -> str:
    if _is_atom(term):
        return term
    return f"({term})"


def _is_atom(term: str) -> bool:
    if re.fullmatch(r"!?defined\([A-Za-z0-9_]+\)|[A-Za-z0-9_]+", term):
        return True
    if term.startswith("!(") and closing_paren(term, 1) == len(term) - 1:
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
    """One open #if: its branches so far, and the guard and deadness of the text under it."""

    __slots__ = ("branch_conds", "term", "dead", "transparent", "line", "outer", "outer_dead", "guard")

    def __init__(self, cond: str, line: int, outer: _Frame | None) -> None:
        self.branch_conds = [cond]
        self.term = cond
        self.dead = cond == "0"
        self.transparent = False
        self.line = line
        self.outer: _Guard | None = outer.guard if outer else None
        self.outer_dead = outer.in_dead() if outer else False
        self.guard: _Guard | None = None
        self.settle()

    def settle(self) -> None:
        """Recompute the guard under this frame after its term (or transparency) changed."""
        counts = not self.transparent and self.term != "1" and not _NON_CONFIG.match(self.term)
        self.guard = _Guard(self.outer, self.term) if counts else self.outer

    def in_dead(self) -> bool:
        return self.dead or self.outer_dead


def preprocess(source: bytes) -> Preprocessed:
    """The source with its directives and dead (#if 0) regions blanked (byte offsets and lines
    kept), the guard of each line, the #defines of live code and what is unbalanced."""
    comments = [(m.start(), m.end()) for m in _BLOCK_COMMENT.finditer(source)
                if not _inside_string_or_line_comment(source, m.start())]
    comment_starts = [c[0] for c in comments]
    state = _Directives(source)
    row = 0
    last_pos = 0
    for m in _DIRECTIVE.finditer(source):
        start = m.start()
        i = bisect.bisect_right(comment_starts, start) - 1
        if i >= 0 and comments[i][0] < start < comments[i][1]:
            continue   # a '#' inside a block comment
        row += source.count(b"\n", last_pos, start)
        last_pos = start
        # A block comment opened on the directive line ends the directive
        # where the comment ends, or the comment's tail would become code.
        end = m.end()
        j = bisect.bisect_left(comment_starts, start)
        while j < len(comments) and comments[j][0] < end:
            end = max(end, comments[j][1])
            j += 1
        state.directive(m, start, end, row)
    return state.finish()


class _Directives:
    """What preprocess() keeps while it reads the directives, one at a time, in order."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.out = bytearray(source)
        self.guard_rows = [0]
        self.guards: list = [None]
        self.defines: list[Define] = []
        self.problems: list[tuple[int, str]] = []
        self.stack: list[_Frame] = []
        self.first = True
        self.dead_start: int | None = None   # byte offset where the current dead (#if 0) region began

    def in_dead(self) -> bool:
        return bool(self.stack) and self.stack[-1].in_dead()

    def directive(self, m: Match, start: int, end: int, row: int) -> None:
        """One directive, at bytes start..end of the source, on line row + 1."""
        blank(self.out, start, end)
        keyword = m.group(1).decode()
        rest = _join_continuations(self.source[m.start(2):end].decode("utf-8", "replace"))
        was_dead = self.in_dead()
        if keyword in ("if", "ifdef", "ifndef"):
            self._open(keyword, rest, end, row)
        elif keyword in ("elif", "else"):
            self._branch(keyword, rest, row)
        elif keyword == "endif":
            if not self.stack:
                self.problems.append((row + 1, "#endif without #if"))
            else:
                self.stack.pop()
        elif keyword == "define" and not was_dead:
            d = _parse_define(self.source, m, end, row + 1)
            if d is not None:
                self.defines.append(d)
        self.first = False
        self._blank_dead(was_dead, start, end)
        # The guard changes on the line after the directive.
        self._guard_from(row + self.source.count(b"\n", start, end) + 1)

    def _open(self, keyword: str, rest: str, end: int, row: int) -> None:
        if keyword == "ifdef":
            cond = f"defined({_first_word(rest)})"
        elif keyword == "ifndef":
            cond = f"!defined({_first_word(rest)})"
        else:
            cond = _normalize_condition(rest)
        frame = _Frame(cond, row + 1, self.stack[-1] if self.stack else None)
        if self.first and keyword == "ifndef" and _next_is_define_of(self.source, end, _first_word(rest)):
            frame.transparent = True   # the include guard
            frame.settle()
        self.stack.append(frame)

    def _branch(self, keyword: str, rest: str, row: int) -> None:
        if not self.stack:
            self.problems.append((row + 1, f"#{keyword} without #if"))
            return
        frame = self.stack[-1]
        previous = [negate(c) for c in frame.branch_conds]
        if keyword == "elif":
            cond = _normalize_condition(rest)
            frame.branch_conds.append(cond)
            frame.term = guard_expression(previous + [cond]) or cond
            frame.dead = cond == "0" or "1" in frame.branch_conds[:-1]
        else:
            frame.term = guard_expression([c for c in previous if c != "1"]) or "1"
            frame.dead = "1" in frame.branch_conds
        frame.settle()

    def _blank_dead(self, was_dead: bool, start: int, end: int) -> None:
        """Dead code (#if 0 and the like) is blanked whole."""
        now_dead = self.in_dead()
        if now_dead and not was_dead:
            self.dead_start = end
        elif was_dead and not now_dead and self.dead_start is not None:
            blank(self.out, self.dead_start, start)
            self.dead_start = None

    def _guard_from(self, line: int) -> None:
        """The guard of the open #if from line (0-based) on."""
        g = self.stack[-1].guard if self.stack else None
        if g is not self.guards[-1]:
            if self.guard_rows[-1] == line:
                self.guards[-1] = g
            else:
                self.guard_rows.append(line)
                self.guards.append(g)

    def finish(self) -> Preprocessed:
        if self.dead_start is not None:
            blank(self.out, self.dead_start, len(self.out))
        for frame in self.stack:
            self.problems.append((frame.line, "#if without #endif"))
        blank_annotations(self.out)
        return Preprocessed(bytes(self.out), tuple(self.guard_rows), tuple(self.guards), tuple(self.defines),
                            tuple(self.problems))


def _inside_string_or_line_comment(source: bytes, pos: int) -> bool:
    line_start = source.rfind(b"\n", 0, pos) + 1
    for m in _LINE_COMMENT_OR_STRING.finditer(source, line_start, pos + 2):
        if m.start() < pos < m.end():
            return True
    return False


def _next_is_define_of(source: bytes, pos: int, name: str) -> bool:
    m = re.compile(rb"\s*#[ \t]*define[ \t]+" + re.escape(name.encode()) + rb"\b").match(source, pos)
    return m is not None




def _first_word(text: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9_]+)", text)
    return m.group(1) if m else text.strip()


def _join_continuations(text: str) -> str:
    return re.sub(r"\\[ \t\r]*\n", " ", text)




_DEFINE_HEAD = re.compile(rb"[ \t]*([A-Za-z_][A-Za-z0-9_]*)(\(([^)]*)\))?")


def _parse_define(source: bytes, m: Match, end: int, line_no: int) -> Define | None:
    head = _DEFINE_HEAD.match(source, m.start(2), end)
    if not head:
        return None
    name = head.group(1).decode()
    params = None
    if head.group(2) is not None:
        params = tuple(p.strip() for p in head.group(3).decode("utf-8", "replace").split(",") if p.strip())
    body_offset = head.end()
    body = source[body_offset:end].decode("utf-8", "replace")
    # Keep the body's shape (same length) so that positions map back.
    body = re.sub(r"\\(?=[ \t\r]*\n)", " ", body)
    return Define(name, params, body, line_no, body_offset)
