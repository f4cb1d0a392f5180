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
import re
from collections import defaultdict
from functools import lru_cache

from pvscan.facts import Call
from pvscan.parse import node_text, parse_tree
from pvscan.preprocess import preprocess
from pvscan.tree import arch_of

@lru_cache(maxsize=1)
def _query():
    from importlib import resources

    import tree_sitter_c
    from tree_sitter import Language, Query

    text = resources.files("pvscan.queries").joinpath("calls.scm").read_text()
    return Query(Language(tree_sitter_c.language()), text)


def calls_in_file(rel: str, data: bytes, names: frozenset[str]) -> list[Call]:
    from tree_sitter import QueryCursor

    pre = preprocess(data)
    tree = parse_tree(pre.text)
    captures = QueryCursor(_query()).captures(tree.root_node)
    functions = sorted((n.start_byte, n.end_byte, n) for n in captures.get("function", []))
    # Only a .c file's own definition shadows a wrapper: a header that
    # defines the same name does so for the other configuration
    # ('#ifndef CONFIG_PARAVIRT_XXL ... load_gs_index()'), not instead of it.
    local = set()
    if rel.endswith(".c"):
        local = {name for _, _, fn in functions if (name := _function_name(fn))}
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
        out.append(Call(name, rel, callee.start_point[0] + 1, enclosing, name in local))
    # Calls inside macro bodies (blank in the parsed text): the macro is the caller.
    pattern = _names_regex(names)
    for d in pre.defines:
        for m in pattern.finditer(d.body):
            if d.name == m.group(1):
                continue
            line = d.line + d.body.count("\n", 0, m.start())
            out.append(Call(m.group(1), rel, line, d.name, m.group(1) in local))
    return out


@lru_cache(maxsize=8)
def _names_regex(names: frozenset[str]):
    alternatives = "|".join(sorted(re.escape(n) for n in names))
    return re.compile(rf"(?<![A-Za-z0-9_.>])({alternatives})\s*\(")


def _function_name(fn):
    from pvscan.parse import _declarator_name

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
