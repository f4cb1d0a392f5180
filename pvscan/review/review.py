"""Stage 5: what a patch does to pv_ops, anchored to the patch's own lines.

For each patch (in mbox order): apply it in memory to the tree's files (or,
if the tree already holds it, as under 'b4 prep', take it back out), build
the inventory before and after from per-file facts (cached by content, so
only what the patch touches is parsed), diff the two, and check every ABI
on both sides to keep only the findings the patch introduces.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from pvscan.errors import PvscanError, Warning_
from pvscan.findings import Finding
from pvscan.inventory.build import build_inventory
from pvscan.naming import CANDIDATE_RE
from pvscan.review.apply import DoesNotApply, apply_file
from pvscan.review.diff import diff
from pvscan.source.directory import KernelTree, SkippedFile
from pvscan.source.search import find_table_candidates

INTERFACE = {"PV101", "PV102", "PV103", "PV104", "PV105", "PV106"}


@dataclass
class PatchReview:
    index: int
    subject: str
    author: str | None
    date: str | None
    files: list                       # FilePatch, for the reply format
    findings: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    already_applied: bool = False

    @property
    def changes_interface(self) -> bool:
        return any(f.code in INTERFACE for f in self.findings)

    def summary(self) -> str:
        counts = Counter(f.code for f in self.findings)
        if not self.changes_interface:
            touched = sum(counts[c] for c in ("PV107", "PV108", "PV109", "PV110", "PV111"))
            tail = f" ({touched} call site or backend change(s))" if touched else ""
            return f"does not change the pv_ops interface{tail}"
        parts = [f"{counts[code]} {what}" for code, what in (
            ("PV101", "op(s) added"), ("PV102", "op(s) removed"), ("PV103", "op(s) renamed"),
            ("PV104", "signature change(s)"), ("PV105", "convention change(s)"),
            ("PV106", "guard change(s)")) if counts[code]]
        return "changes the pv_ops interface: " + ", ".join(parts)


class _Files:
    """The tree's files as the patches so far left them (in memory only)."""

    def __init__(self, tree: KernelTree):
        self.tree = tree
        self.overlay: dict[str, bytes | None] = {}

    def get(self, rel: str | None) -> bytes | None:
        if rel is None:
            return None
        if rel in self.overlay:
            return self.overlay[rel]
        try:
            return self.tree.read(rel)
        except SkippedFile:
            return None


def review(tree_path, patches, abis, backend_map, source: str) -> list[PatchReview]:
    from pvscan.cache import get_candidates, put_candidates

    tree = tree_path if hasattr(tree_path, "candidates") else KernelTree(tree_path)
    warnings: list = []
    candidates = get_candidates(tree.root, str(tree.version))
    if candidates is None:
        if hasattr(tree, "candidates"):
            candidates = tree.candidates(warnings)      # a git revision
        else:
            candidates = find_table_candidates(tree, warnings)
        put_candidates(tree.root, str(tree.version), candidates)
    files = _Files(tree)
    out = []
    for index, patch in enumerate(patches, 1):
        out.append(_review_one(index, patch, files, candidates, abis, backend_map, source))
    if out:
        out[0].warnings = warnings + out[0].warnings
    return out


def _review_one(index, patch, files, candidates, abis, backend_map, source) -> PatchReview:
    result = PatchReview(index, patch.subject, patch.author, patch.date, patch.files)
    usable = []
    for fp in patch.files:
        if fp.problem:
            result.warnings.append(Warning_(fp.path, 0, fp.problem))
        elif fp.path.endswith((".c", ".h")):
            usable.append(fp)
    before, after, added, removed, applied = {}, {}, {}, {}, True
    try:
        for fp in usable:
            old = files.get(fp.old_path)
            if fp.old_path and old is None:
                raise DoesNotApply(fp.patch_line, "the file is not in the tree")
            res = apply_file(old, fp)
            _record(before, after, fp, old, res.text)
            added[fp.new_path] = res.added
            removed[fp.old_path] = res.removed
    except DoesNotApply as forward:
        before, after, added, removed, applied = {}, {}, {}, {}, False
        try:
            for fp in usable:
                cur = files.get(fp.new_path)
                if fp.new_path and cur is None:
                    raise DoesNotApply(fp.patch_line, "the file is not in the tree")
                res = apply_file(cur, fp, reverse=True)
                _record(before, after, fp, res.text, cur)
                # Taken back out: what the reversal added are the patch's removed lines.
                added[fp.new_path] = res.removed
                removed[fp.old_path] = res.added
        except DoesNotApply:
            # The file whose header comes last before the failing hunk holds it.
            before_hunk = [fp for fp in usable if fp.patch_line <= forward.line]
            bad = max(before_hunk, key=lambda fp: fp.patch_line) if before_hunk else None
            name = bad.path if bad else "the tree"
            raise PvscanError(f"patch {index} does not apply to {name}: {forward.reason}",
                              source, forward.line) from None
    result.already_applied = not applied
    if applied:
        for rel, data in after.items():
            if rel is not None:
                files.overlay[rel] = data
        for fp in usable:
            if fp.old_path and fp.old_path != fp.new_path:
                files.overlay[fp.old_path] = None

    touched = {r for r in set(before) | set(after) if r}
    base = [rel for rel in candidates if rel not in touched]
    facts_b, facts_a, warnings = _facts(base, files, before, after)
    result.warnings.extend(warnings)
    inv_b = build_inventory(facts_b, backend_map)
    inv_a = build_inventory(facts_a, backend_map)
    anchor = _Anchor(added, removed)
    result.findings = diff(inv_b, inv_a, anchor)
    if abis:
        from pvscan.checks.check import check

        old = {f.fingerprint for f in check(inv_b, abis).findings}
        for f in check(inv_a, abis).findings:
            if f.fingerprint not in old:
                result.findings.append(anchor.place(f) if f.in_tree else f)
    result.findings.sort(key=lambda f: (f.file, f.line, f.side, f.code, f.op, f.message))
    return result


def _record(before, after, fp, old_text, new_text):
    """Both sides of one file change; a renamed or deleted path is absent after, a new one before."""
    if fp.old_path:
        before[fp.old_path] = old_text
        after.setdefault(fp.old_path, None)
    if fp.new_path:
        after[fp.new_path] = new_text
        before.setdefault(fp.new_path, None)


def _facts(base, files, before, after):
    from pvscan.pipeline import facts_of

    warnings = []
    common = []
    for rel in base:
        data = files.get(rel)
        if data is None:
            continue
        f, w = facts_of(rel, data)
        common.append(f)
        warnings.extend(w)
    sides = []
    for side in (before, after):
        facts = list(common)
        for rel, data in sorted((r, d) for r, d in side.items() if r):
            if data is not None and CANDIDATE_RE.search(data):
                f, w = facts_of(rel, data)
                facts.append(f)
                warnings.extend(w)
        sides.append(facts)
    return sides[0], sides[1], warnings


class _Anchor:
    """Moves a location onto the nearest line the patch added (or removed, for the old side)."""

    def __init__(self, added, removed):
        self.added = {k: sorted(v) for k, v in added.items() if k}
        self.removed = {k: sorted(v) for k, v in removed.items() if k}

    def place(self, f: Finding, side: str = "new", above: bool = False) -> Finding:
        """above: prefer the nearest changed line before the location (the #if that guards it)."""
        lines = (self.added if side == "new" else self.removed).get(f.file)
        if not lines:
            return _with(f, f.line, side)
        i = bisect.bisect_right(lines, f.line)
        if above and i > 0:
            return _with(f, lines[i - 1], side)
        near = [lines[j] for j in (i - 1, i) if 0 <= j < len(lines)]
        best = min(near, key=lambda n: (abs(n - f.line), n > f.line))
        return _with(f, best, side)


def _with(f: Finding, line: int, side: str) -> Finding:
    from dataclasses import replace

    return replace(f, line=line, side=side)
