"""The first entry after every preprocessor directive in every ops table and initializer.

tree-sitter reads '#if' inside a struct body or a designated initializer as
an ERROR node that can swallow or misname the entry right after it. This
test reads each real tree as plain text, independently of pvscan's parser:
in every 'struct pv_*ops {...}' / 'struct paravirt_ops {...}' definition
and every initializer of such a struct (or of 'typeof(pv_ops)'), it takes
each '#if', '#ifdef', '#ifndef', '#elif', '#else' and '#endif' and the
first member or entry after it, before any other directive. pvscan must
hold each one at its line: a declared op (or a variant of one) for a
member, an implementation or a clear for an entry.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

INITIALIZER = re.compile(r"^(?:static\s+)?(?:const\s+)?(?:struct\s+(?:pv_\w*ops|paravirt_patch_template|paravirt_ops)"
                         r"|typeof\(pv_ops\))\s+\w+[^;(=]*=\s*\{")
STRUCT = re.compile(r"^struct\s+(?:pv_\w*ops|paravirt_ops)\s*\{?\s*$")
DIRECTIVE = re.compile(r"^\s*#\s*(?:if|ifdef|ifndef|elif|else|endif)\b")
ENTRY = re.compile(r"^\s*\.([\w.]+)\s*=\s*(.*)")
MEMBER = re.compile(r"\(\s*\*\s*(\w+)\s*\)\s*\(|^\s*struct\s+paravirt_callee_save\s+(\w+)\s*;")


def _regions(lines):
    """(kind, first line index, end index) of each struct body or initializer, to its '}' in column 0."""
    i = 0
    while i < len(lines):
        kind = "initializer" if INITIALIZER.match(lines[i]) else None
        if STRUCT.match(lines[i]) and ("{" in lines[i] or lines[i + 1:i + 2] == ["{"]):
            kind = "struct"
        if kind:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("}")), len(lines))
            yield kind, i, end
            i = end
        i += 1


def boundary_entries(root) -> list[tuple[str, str, int, str]]:
    """(kind, file, 1-based line, name) of the first entry after each directive in the tables."""
    from pvscan.source.search import ripgrep

    listed = subprocess.run([ripgrep() or "rg", "-l", "--no-config", "-t", "c", r"pv_\w*ops|paravirt_ops|paravirt_patch_template",
                             "."], cwd=root, capture_output=True, text=True).stdout.split()
    out = []
    for rel in sorted(p[2:] for p in listed):
        if rel.startswith(("Documentation/", "tools/")):
            continue
        with open(os.path.join(root, rel), errors="replace") as f:
            lines = f.read().split("\n")
        for kind, start, end in _regions(lines):
            for k in range(start + 1, end):
                if not DIRECTIVE.match(lines[k]):
                    continue
                for m in range(k + 1, end):
                    if lines[m].lstrip().startswith("#"):
                        break              # the next directive has a first entry of its own
                    if kind == "initializer":
                        found = ENTRY.match(lines[m])
                        if found and found.group(2).strip() != "{":      # '.cpu = {' opens a group
                            out.append((kind, rel, m + 1, found.group(1)))
                            break
                    else:
                        found = MEMBER.search(lines[m])
                        if found:
                            out.append((kind, rel, m + 1, found.group(1) or found.group(2)))
                            break
    return out


def _held(result):
    declared, filled = set(), set()
    for op in result.inventory.ops:
        declared.add((op.file, op.line))
        declared.update((op.file, v.line) for v in op.variants)
        filled.update((i.file, i.line) for i in op.implementations)
        filled.update((c.file, c.line) for c in op.cleared_by)
    return {"struct": declared, "initializer": filled}


# The number of boundaries the reader finds: a reader that found none would prove nothing.
TREES = [("linux_6_12", 20), ("linux_6_1", 19), ("linux_4_14", 25), ("linux_2_6_32", 43), ("linux_2_6_22", 11)]


@pytest.mark.parametrize("fixture, count", TREES)
def test_the_first_entry_after_every_directive_in_every_table_and_initializer(request, fixture, count):
    result = request.getfixturevalue(fixture)
    entries = boundary_entries(result.tree)
    assert len(entries) == count
    held = _held(result)
    assert [e for e in entries if (e[1], e[2]) not in held[e[0]]] == []
