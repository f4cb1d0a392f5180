"""The callers pass: calls of each wrapper found in the tree, attributed to the wrappers they reach.

A wrapper is the function (or macro) around a call site: write_cr3() for
mmu.write_cr3. Its callers are the blast radius of changing the op. Only
real calls count (pvscan.facts.calls): a call expression whose callee is
the bare name, in a file of the wrapper's own architecture or of none, and
not in a file that defines a function or macro of that name itself (a
local definition shadows the wrapper; a weak one does not, pvscan.facts.calls).
"""

from __future__ import annotations

from collections import defaultdict

from pvscan.facts.model import Call
from pvscan.naming import arch_of


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
