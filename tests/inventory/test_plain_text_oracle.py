"""What a plain-text reader of the real trees finds, which pvscan must hold at the same lines.

The reader is independent of tree-sitter and of pvscan's preprocessing.

The first entry after every directive: tree-sitter reads '#if' inside a
struct body or a designated initializer as an ERROR node that can swallow
or misname the entry right after it. In every 'struct pv_*ops {...}' /
'struct paravirt_ops {...}' definition and every initializer of such a
struct (or of 'typeof(pv_ops)'), the reader takes each '#if', '#ifdef',
'#ifndef', '#elif', '#else' and '#endif' and the first member or entry
after it, before any other directive: a declared op (or a variant of one)
for a member, an implementation or a clear for an entry.

Every assignment to an op: each statement that assigns a table member the
struct bodies declare as a function pointer or callee-save slot
('pv_ops.mmu.set_pte = ...', 'pv_lock_ops.kick = ...') is an
implementation (or a NULL) at its line. A missed implementation is the
worst bug pvscan can have.
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


def _rg(root, *args) -> str:
    from pvscan.source.search import ripgrep

    return subprocess.run([ripgrep() or "rg", "--no-config", "-t", "c", *args, "."], cwd=root,
                          capture_output=True, text=True).stdout


def _sources(root):
    """(relative path, lines) of the files that name a table, but Documentation/ and tools/."""
    for rel in sorted(p[2:] for p in _rg(root, "-l", r"pv_\w*ops|paravirt_ops|paravirt_patch_template").split()):
        if not rel.startswith(("Documentation/", "tools/")):
            with open(os.path.join(root, rel), errors="replace") as f:
                yield rel, f.read().split("\n")


def boundary_entries(root) -> list[tuple[str, str, int, str]]:
    """(kind, file, 1-based line, name) of the first entry after each directive in the tables."""
    out = []
    for rel, lines in _sources(root):
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


ASSIGNMENT = re.compile(r"\b(?:pv_ops|paravirt_ops|pv_\w*ops)\.([\w.]+?)(?:\.func)?\s*=(?!=)")


def op_assignments(root) -> list[tuple[str, str, int, str]]:
    """("initializer", file, 1-based line, text) of each statement that assigns a table member
    declared as a function pointer or callee-save slot in an ops struct body: an implementation of
    an op (or a NULL), held as an initializer entry is. Macro bodies (fill macros, whose uses are
    the implementations) are left out."""
    sources = list(_sources(root))
    members = set()
    for _, lines in sources:
        for kind, start, end in _regions(lines):
            if kind == "struct":
                for line in lines[start + 1:end]:
                    found = MEMBER.search(line)
                    if found:
                        members.add(found.group(1) or found.group(2))
    out = []
    for rel, lines in sources:
        for n, line in enumerate(lines, 1):
            text = line.strip()
            if text.startswith(("#", "*", "/*", "//")) or text.endswith("\\"):
                continue
            for found in ASSIGNMENT.finditer(line):
                if found.group(1).rsplit(".", 1)[-1] in members:
                    out.append(("initializer", rel, n, text))
    return out


def unheld(result, found) -> list:
    """Those of found ((kind, file, line, ...)) that the inventory does not hold at their line: a
    declared op or variant for a struct member, an implementation or a clear for an entry."""
    held = {"struct": set(), "initializer": set()}
    for op in result.inventory.ops:
        held["struct"].add((op.file, op.line))
        held["struct"].update((op.file, v.line) for v in op.variants)
        held["initializer"].update((i.file, i.line) for i in op.implementations)
        held["initializer"].update((c.file, c.line) for c in op.cleared_by)
    return [f for f in found if (f[1], f[2]) not in held[f[0]]]


def _all_held(result, reader, count):
    """The plain-text reader finds count places in the tree, and the inventory holds each."""
    found = reader(result.tree)
    assert len(found) == count
    assert unheld(result, found) == []


# The number of boundaries the reader finds: a reader that found none would prove nothing.
TREES = [("linux_6_12", 20), ("linux_6_1", 19), ("linux_4_14", 25), ("linux_2_6_32", 43), ("linux_2_6_22", 11)]


@pytest.mark.parametrize("fixture, count", TREES)
def test_the_first_entry_after_every_directive_in_every_table_and_initializer(request, fixture, count):
    _all_held(request.getfixturevalue(fixture), boundary_entries, count)


# Assignments to ops, as the reader finds them ('pv_ops.cpu = xen_cpu_ops.cpu' copies a group, and
# 'paravirt_ops.name = "vmi"' sets data: neither is an op).
ASSIGNED = [("linux_6_12", 47), ("linux_6_1", 44), ("linux_4_14", 50), ("linux_2_6_32", 112), ("linux_2_6_22", 27)]


@pytest.mark.parametrize("fixture, count", ASSIGNED)
def test_every_assignment_to_an_op_is_an_implementation_at_its_line(request, fixture, count):
    _all_held(request.getfixturevalue(fixture), op_assignments, count)
