"""Stage 3b: who calls the wrappers, across the whole tree.

A wrapper is the function (or macro) around a call site: write_cr3() for
mmu.write_cr3. Its callers are the blast radius of changing the op. The
candidate files come from one text search for all wrapper names; each is
parsed and only real calls count: a call expression whose callee is the
bare name, in a file of the wrapper's own architecture or of none, and not
in a file that defines a function or macro of that name itself (a local
definition shadows the wrapper).
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections import defaultdict
from functools import lru_cache

from pvscan.facts.model import Call
from pvscan.facts.parse import node_text, parse_tree
from pvscan.facts.preprocess import preprocess
from pvscan.source.directory import arch_of

@lru_cache(maxsize=1)
def _query():
    from importlib import resources

    import tree_sitter_c
    from tree_sitter import Language, Query

    text = resources.files("pvscan.queries").joinpath("calls.scm").read_text()
    return Query(Language(tree_sitter_c.language()), text)


# A '}' in column 0 ends a top-level definition, unless the line goes on
# with a backslash: then it is inside a #define body.
_TOP_LEVEL_END = re.compile(rb"^\}(?![^\n]*\\[ \t\r]*$)", re.M)


def calls_in_file(rel: str, data: bytes, names: frozenset[str], rows=None) -> list[Call]:
    """Calls of the named functions or macros in one file.

    With rows (the 1-based lines the text search matched), only the
    top-level chunks holding those lines are parsed: kernel style closes
    every function with a '}' in column 0, so the text between two such
    lines holds whole definitions. A 10,000-line header with three calls
    costs three small parses instead of one big one.
    """
    if rows:
        chunks = _chunks_around(data, rows)
    else:
        chunks = [(0, len(data), 0)]
    out = []
    local = set()
    for start, end, first_row in chunks:
        out.extend(_calls_in_chunk(rel, data[start:end], first_row, names, local))
    return [dataclasses.replace(c, local_definition=c.callee in local) if c.callee in local else c
            for c in out]


def _chunks_around(data: bytes, rows) -> list[tuple[int, int, int]]:
    ends = [m.start() for m in _TOP_LEVEL_END.finditer(data)]
    line_starts = _line_starts(data)
    chunks = {}
    for row in rows:
        if row - 1 >= len(line_starts):
            continue
        pos = line_starts[row - 1]
        i = bisect.bisect_left(ends, pos)
        # From just after the previous top-level '}' line to the end of the next one.
        start = data.find(b"\n", ends[i - 1]) + 1 if i > 0 else 0
        if i < len(ends):
            nl = data.find(b"\n", ends[i])
            end = len(data) if nl < 0 else nl + 1
        else:
            end = len(data)
        chunks[start] = max(chunks.get(start, 0), end)
    out = []
    for start in sorted(chunks):
        first_row = bisect.bisect_right(line_starts, start) - 1
        out.append((start, chunks[start], first_row))
    return out


def _line_starts(data: bytes) -> list[int]:
    starts = [0]
    find = data.find
    i = find(b"\n")
    while i >= 0:
        starts.append(i + 1)
        i = find(b"\n", i + 1)
    return starts


def _calls_in_chunk(rel, text, first_row, names, local) -> list[Call]:
    from tree_sitter import QueryCursor

    pre = preprocess(text)
    tree = parse_tree(pre.text)
    captures = QueryCursor(_query()).captures(tree.root_node)
    functions = sorted((n.start_byte, n.end_byte, n) for n in captures.get("function", []))
    # Only a .c file's own definition shadows a wrapper: a header that
    # defines the same name does so for the other configuration
    # ('#ifndef CONFIG_PARAVIRT_XXL ... load_gs_index()'), not instead of it.
    if rel.endswith(".c"):
        local.update(name for _, _, fn in functions if (name := _function_name(fn)) in names)
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
def _names_regex(names: frozenset[str]):
    alternatives = "|".join(sorted(re.escape(n) for n in names))
    return re.compile(rf"(?<![A-Za-z0-9_.>])({alternatives})\s*\(")


def _function_name(fn):
    from pvscan.facts.parse import _declarator_name

    return _declarator_name(fn.child_by_field_name("declarator"))


def attribute_calls(calls: list[Call], wrappers_by_arch: dict[str, set[str]], defined_in: dict) -> dict:
    """{(arch, name): [Call, ...]}: calls of each wrapper that reach it.

    defined_in maps (arch, name) to the files that define the wrapper: a call
    inside one of them needs no shadowing check (the wrapper is there).
    """
    out = defaultdict(list)
    for c in calls:
        file_arch = arch_of(c.path)
        for arch, names in wrappers_by_arch.items():
            if c.callee not in names or file_arch not in (arch, "generic"):
                continue
            if c.local_definition and c.path not in defined_in.get((arch, c.callee), ()):
                continue
            out[(arch, c.callee)].append(c)
    return out
