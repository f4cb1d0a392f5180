"""Calls of the wrappers in one file: the facts the callers pass counts.

The candidate files come from one text search for all wrapper names; each
is parsed here, and only call expressions whose callee is the bare name
count, with the function or macro that makes each call, and whether the
file defines a function of that name itself (pvscan.inventory.callers
decides what that means).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from pvscan.facts.ctext import chunks_around
from pvscan.facts.model import Call
from pvscan.facts.preprocess import preprocess
from pvscan.facts.syntax import declarator_name, node_text, parse_tree

if TYPE_CHECKING:
    from re import Pattern

    from tree_sitter import Node, Query


@lru_cache(maxsize=1)
def _query() -> Query:
    from importlib import resources

    import tree_sitter_c
    from tree_sitter import Language, Query

    text = resources.files("pvscan.queries").joinpath("calls.scm").read_text()
    return Query(Language(tree_sitter_c.language()), text)


def calls_in_file(rel: str, data: bytes, names: frozenset[str], rows: tuple[int, ...] | None = None) -> list[Call]:
    """Calls of the named functions or macros in one file.

    With rows (the 1-based lines the text search matched), only the
    top-level chunks holding those lines are parsed: kernel style closes
    every function with a '}' in column 0, so the text between two such
    lines holds whole definitions. A 10,000-line header with three calls
    costs three small parses instead of one big one.
    """
    if rows:
        chunks = chunks_around(data, rows)
    else:
        chunks = [(0, len(data), 0)]
    out: list[Call] = []
    local: set[str] = set()
    for start, end, first_row in chunks:
        out.extend(_calls_in_chunk(rel, data[start:end], first_row, names, local))
    return [dataclasses.replace(c, local_definition=c.callee in local) if c.callee in local else c
            for c in out]


def _calls_in_chunk(rel: str, text: bytes, first_row: int, names: frozenset, local: set[str]) -> list[Call]:
    from tree_sitter import QueryCursor

    pre = preprocess(text)
    tree = parse_tree(pre.text)
    captures = QueryCursor(_query()).captures(tree.root_node)
    functions = sorted((n.start_byte, n.end_byte, n) for n in captures.get("function", []))
    # Only a .c file's own definition shadows a wrapper: a header that
    # defines the same name does so for the other configuration
    # ('#ifndef CONFIG_PARAVIRT_XXL ... load_gs_index()'), not instead of it.
    # Nor does a weak one, which the wrapper overrides at link time (2.6.22 setup.c:
    # '__attribute__((weak)) memory_setup(void)', "Overridden in paravirt.c if CONFIG_PARAVIRT").
    if rel.endswith(".c"):
        local.update(name for _, _, fn in functions
                     if (name := _function_name(fn)) is not None and name in names and not _weak(text, fn))
    starts = [f[0] for f in functions]
    out = []
    for callee in captures.get("callee", []):
        name = node_text(callee, pre.text)
        if name not in names:
            continue
        i = bisect.bisect_right(starts, callee.start_byte) - 1
        enclosing = None
        if i >= 0 and functions[i][0] <= callee.start_byte < functions[i][1]:
            enclosing = _function_name(functions[i][2])
        out.append(Call(name, rel, first_row + callee.start_point[0] + 1, enclosing))
    # Calls inside macro bodies (blank in the parsed text): the macro is the caller.
    pattern = _names_regex(names)
    for d in pre.defines:
        for m in pattern.finditer(d.body):
            if d.name == m.group(1):
                continue
            line = first_row + d.line + d.body.count("\n", 0, m.start())
            out.append(Call(m.group(1), rel, line, d.name))
    return out


@lru_cache(maxsize=8)
def _names_regex(names: frozenset[str]) -> Pattern:
    alternatives = "|".join(sorted(re.escape(n) for n in names))
    return re.compile(rf"(?<![A-Za-z0-9_.>])({alternatives})\s*\(")


_WEAK = re.compile(rb"\b__weak\b|__attribute__\s*\(\(\s*(?:__)?weak(?:__)?\s*\)\)")


def _weak(text: bytes, fn: Node) -> bool:
    """Whether a function definition is weak: its head, from the start of its first line (a
    blanked '__weak' may sit before the node) to its body, says so."""
    body = fn.child_by_field_name("body")
    head_start = text.rfind(b"\n", 0, fn.start_byte) + 1
    return bool(_WEAK.search(text, head_start, body.start_byte if body is not None else fn.end_byte))


def _function_name(fn: Node) -> str | None:
    return declarator_name(fn.child_by_field_name("declarator"))
