"""Kernel C as text: balanced parentheses, blanking, folding and top-level chunks.

The one place for the textual helpers every stage needs before (or
instead of) a parse: a PVOP_*() argument list is a type and an op path,
which no C grammar accepts; an annotation macro must be blanked without
moving a byte; a header of 10,000 lines is parsed a chunk at a time.
Everything here works on str and bytes alike where both occur.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from re import Pattern


class Rows:
    """The 0-based row of any offset of one text in O(log n), after one pass over it: counting
    the newlines from the start for each match was quadratic (a header of 100,000 PVOP_ lines)."""

    def __init__(self, text: bytes) -> None:
        self._starts = [m.end() for m in re.finditer(b"\n", text)]   # where rows 1, 2 ... begin

    def at(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

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

_ANNOTATIONS_BYTES = tuple(sorted((a.encode() for a in ANNOTATIONS), key=len, reverse=True))
_ANNOTATIONS_WITH_ARGS_BYTES = tuple(sorted((a.encode() for a in ANNOTATIONS_WITH_ARGS), key=len, reverse=True))
_NOT_NEWLINE = re.compile(rb"[^\n]")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# A '}' in column 0 ends a top-level definition, unless the line goes on
# with a backslash: then it is inside a #define body. Searched for after a
# newline, a literal the regex engine skips to, where '^' with re.M is tried at
# every offset (five times slower); the file's first byte is looked at apart.
_TOP_LEVEL_END = re.compile(rb"^\}(?![^\n]*\\[ \t\r]*$)", re.M)
_TOP_LEVEL_END_AFTER_NEWLINE = re.compile(rb"\n\}(?![^\n]*\\[ \t\r]*$)", re.M)


# -- parentheses ----------------------------------------------------------------

def closing_paren(text: str | bytes, start: int) -> int:
    """Index of the ')' that closes the '(' at or after start, or -1."""
    opening, closing = ("(", ")") if isinstance(text, str) else (0x28, 0x29)
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
    return -1


def after_parens(text: bytes, pos: int) -> int | None:
    """The end of a parenthesized list that starts at pos (after blanks), or None."""
    i, n = pos, len(text)
    while i < n and text[i] in b" \t\n\r":
        i += 1
    if i >= n or text[i] != 0x28:
        return None
    close = closing_paren(text, i)
    return None if close < 0 else close + 1


def outside_parens(text: str) -> str:
    """The characters of text at parenthesis depth zero ('f(a, b), c' -> 'f, c')."""
    out = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def split_args(text: bytes, open_paren: int) -> tuple[list[str] | None, int]:
    """Top-level comma-separated arguments of a macro use, and the end offset.

    Textual on purpose: 'PVOP_CALL0(unsigned long, cpu.read_cr0)' has a type
    as its first argument, which no C expression grammar accepts. Strings,
    character constants and comments are skipped; (), [] and {} nest.
    Returns (None, len(text)) when the list is not closed.
    """
    depth = 0
    i = open_paren
    n = len(text)
    args = []
    start = open_paren + 1
    quote = 0
    while i < n:
        c = text[i]
        if quote:
            if c == 0x5C:
                i += 2
                continue
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):
            quote = c
        elif c == 0x2F and i + 1 < n and text[i + 1] == 0x2A:
            end = text.find(b"*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif c in (0x28, 0x5B, 0x7B):
            depth += 1
        elif c in (0x29, 0x5D, 0x7D):
            depth -= 1
            if depth == 0:
                args.append(text[start:i].decode("utf-8", "replace"))
                return args, i + 1
        elif c == 0x2C and depth == 1:
            args.append(text[start:i].decode("utf-8", "replace"))
            start = i + 1
        i += 1
    return None, n


# -- blanking -------------------------------------------------------------------

def blank(out: bytearray, start: int, end: int) -> None:
    """Spaces over out[start:end], newlines kept: every offset and line stays put."""
    out[start:end] = _NOT_NEWLINE.sub(b" ", bytes(out[start:end]))


def blank_annotations(out: bytearray) -> None:
    """Blank the annotation macros (and their argument lists) in place."""
    text = bytes(out)
    # A substring test per name is far cheaper than one big alternation over
    # the whole text; the regex then only names what the file has.
    bare = tuple(a for a in _ANNOTATIONS_BYTES if a in text)
    with_args = tuple(a for a in _ANNOTATIONS_WITH_ARGS_BYTES if a in text)
    if bare:
        for m in _annotation_regex(bare, False).finditer(text):
            out[m.start():m.end()] = b" " * (m.end() - m.start())
    if with_args:
        for m in _annotation_regex(with_args, True).finditer(text):
            end = after_parens(text, m.end())
            if end is not None:
                blank(out, m.start(), end)


@lru_cache(maxsize=512)
def _annotation_regex(names: tuple[bytes, ...], with_args: bool) -> Pattern:
    tail = rb"\b(?=\s*\()" if with_args else rb"\b"
    return re.compile(rb"\b(?:" + b"|".join(names) + rb")" + tail)


def fold(text: str) -> str:
    """Comments dropped, whitespace folded: how values and types are shown."""
    return " ".join(_COMMENT.sub(" ", text).split())


# -- lines and top-level chunks -----------------------------------------------------

def chunks_around(data: bytes, rows: Iterable[int]) -> list[tuple[int, int, int]]:
    """(start, end, first 0-based row) of the top-level chunks holding these 1-based rows.

    Kernel style closes every top-level definition with a '}' in column 0,
    so the text between two such lines holds whole definitions.
    """
    ends = [0] if _TOP_LEVEL_END.match(data) else []
    ends += [m.start() + 1 for m in _TOP_LEVEL_END_AFTER_NEWLINE.finditer(data)]
    # Line k (0-based) starts at the length of the lines before it plus their k newlines:
    # summed in C, where finding each newline from Python took twice as long.
    before = list(accumulate(map(len, data.split(b"\n")), initial=0))
    chunks: dict[int, int] = {}   # start -> end
    for row in rows:
        if row >= len(before):
            continue
        pos = before[row - 1] + row - 1
        i = bisect.bisect_left(ends, pos)
        # From just after the previous top-level '}' line to the end of the next one.
        start = data.find(b"\n", ends[i - 1]) + 1 if i > 0 else 0
        if i < len(ends):
            nl = data.find(b"\n", ends[i])
            end = len(data) if nl < 0 else nl + 1
        else:
            end = len(data)
        chunks[start] = max(chunks.get(start, 0), end)
    at_row = Rows(data)
    return [(start, chunks[start], at_row.at(start)) for start in sorted(chunks)]
