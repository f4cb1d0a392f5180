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
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pvscan.checks.rules.pv011_area_layout import AreaLayout
from pvscan.errors import Warning_
from pvscan.findings import Finding
from pvscan.pipeline import inventory_of
from pvscan.progress import NONE
from pvscan.review.apply import HunkOutcome, apply_file
from pvscan.review.changes import change_kinds
from pvscan.review.changes.pv101_op_added import OpAdded
from pvscan.review.changes.pv102_op_removed import OpRemoved
from pvscan.review.changes.pv103_op_renamed import OpRenamed
from pvscan.review.changes.pv104_signature_changed import SignatureChanged
from pvscan.review.changes.pv105_convention_changed import ConventionChanged
from pvscan.review.changes.pv106_guard_changed import GuardChanged
from pvscan.review.changes.pv115_op_moved import OpMoved
from pvscan.review.changes.pv120_hunk_not_applied import HunkNotApplied
from pvscan.review.changes.pv124_hunk_not_reviewed import HunkNotReviewed
from pvscan.review.diff import diff, hunk_findings
from pvscan.review.options import is_kconfig, option_changes
from pvscan.source.patched import PatchedSource

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pvscan.abi import Abi
    from pvscan.inventory.backends import BackendMap
    from pvscan.inventory.model import Inventory, Op
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.progress import Progress
    from pvscan.review.apply import Applied, KeptLines
    from pvscan.review.patch import FilePatch, Patch
    from pvscan.source import Source
    from pvscan.source.files import KernelVersion


INTERFACE = frozenset(kind.code for kind in change_kinds() if kind.changes_interface)
# The changes a patch's summary counts, in the order it names them.
_COUNTED = (OpAdded, OpRemoved, OpRenamed, OpMoved, SignatureChanged, ConventionChanged, GuardChanged)


@dataclass
class PatchReview:
    """The review of one patch: its findings and what it could not read."""

    index: int
    subject: str
    author: str | None
    date: str | None
    files: list                       # FilePatch, for the reply format
    findings: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    already_applied: bool = False
    lines: int = 0                    # the patch's lines in the input

    @property
    def changes_interface(self) -> bool:
        return any(f.code in INTERFACE for f in self.findings)

    def summary(self) -> str:
        counts = Counter(f.code for f in self.findings)
        # A hunk left out makes every statement about the patch a statement about the rest of it.
        not_applied = counts[HunkNotApplied.code]
        partial = f"; {not_applied} hunk(s) did not apply, so this covers the rest" if not_applied else ""
        # A field of a shared area moved: the interface with the hypervisor changed, calls or not.
        moved = counts[AreaLayout.code]
        areas = f"; it moves {moved} field(s) of a shared area the hypervisor writes" if moved else ""
        # A hunk in Kconfig or assembly may change the interface where the review cannot see.
        unread = [f for f in self.findings if f.code == HunkNotReviewed.code]
        partial += (f"; {len(unread)} hunk(s) in files it does not read (Kconfig, assembly, build ...) were "
                    "not judged" if unread else "")
        if not self.changes_interface:
            touched = sum(counts[kind.code] for kind in change_kinds() if kind.changes_use)
            tail = f" ({touched} call site or backend change(s))" if touched else ""
            # 'Does not change' only when nothing that could was left unjudged: a hunk that did not
            # apply, or one in Kconfig or assembly that names paravirt, may carry the change.
            paravirt = [f for f in unread if dict(f.args).get("paravirt")]
            if not_applied or paravirt:
                return f"may change the pv_ops interface: none of what it judged does{tail}{areas}{partial}"
            return f"does not change the pv_ops interface{tail}{areas}{partial}"
        parts = [f"{counts[kind.code]} {kind.counted_as}" for kind in _COUNTED if counts[kind.code]]
        return "changes the pv_ops interface: " + ", ".join(parts) + areas + partial


@dataclass
class SeriesReview:
    """Each patch's review, and for a series of more than one, what the series does as a whole
    (the first patch's tree against the last one's): a change one patch makes and a later one
    takes back is in the patches' reviews and not in the whole's."""

    patches: list
    whole: PatchReview | None = None


def review_series(source: Source, patches: list[Patch], abis: Sequence[Abi], backend_map: BackendMap, patch_name: str,
                  jobs: int | None = None, progress: Progress = NONE) -> SeriesReview:
    """source: the tree the patches apply to (pvscan.source.Source); each patch sees the ones
    before it. jobs and progress are the scans' (pipeline.inventory_of)."""
    from pvscan.kconfig import LazyGuardLogic
    first = state = PatchedSource(source)
    # The tree's Kconfig says which guards are equal (a git range's is read out of its objects).
    guards = LazyGuardLogic(source)
    out = []
    for index, patch in enumerate(patches, 1):
        told = len(guards.problems)
        result, state = _review_one(index, patch, state, abis, backend_map, guards, source, jobs, progress)
        result.warnings.extend(Warning_("Kconfig", 0, p) for p in guards.problems[told:])
        out.append(result)
    whole = _whole(first, state, backend_map, guards, jobs, progress) if len(out) > 1 else None
    guards.close()
    return SeriesReview(out, whole)


def _whole(first: PatchedSource, last: PatchedSource, backend_map: BackendMap, guards: LazyGuardLogic | None,
           jobs: int | None, progress: Progress) -> PatchReview:
    """What the series does to the interface as a whole: the inventory of the tree as the last
    patch left it against the first's, each finding on the final file's lines (a line diff of
    each file the series changed places them)."""
    from pvscan.review.merge import line_changes

    changed, added, removed, kept = {}, {}, {}, {}
    for rel, after in sorted(last.overlay.items()):
        before = first.get(rel)
        if before == after:
            continue
        added[rel], removed[rel], lines_kept = line_changes(before or b"", after or b"")
        kept[rel] = (rel, lines_kept)
        changed[rel] = after
    result = PatchReview(0, "the series as a whole", None, None, [])
    if changed:
        inv_b = inventory_of(first, backend_map, jobs, progress).inventory
        inv_a = inventory_of(first.with_overlay(changed), backend_map, jobs, progress).inventory
        result.findings = diff(inv_b, inv_a, _Anchor(added, removed, kept), guards)
    return result


@dataclass
class _Applied:
    """Both sides of every file a patch touches, the lines it adds and removes, and each hunk's outcome."""

    before: dict = field(default_factory=dict)   # path -> bytes, None (absent); no entry: as the state has it
    after: dict = field(default_factory=dict)
    added: dict = field(default_factory=dict)
    removed: dict = field(default_factory=dict)
    hunks: list = field(default_factory=list)    # (FilePatch, HunkOutcome)
    kept: dict = field(default_factory=dict)     # old path -> (new path, KeptLines)

    def count(self, status: str) -> int:
        return sum(1 for _, h in self.hunks if h.status == status)


def _apply(files: list[FilePatch], state: PatchedSource, reverse: bool, stands: _WhereFindingsStand) -> _Applied:
    """Apply forward to the files as they are, or (reverse) take the patch back out of them,
    hunk by hunk: a hunk that cannot be placed is an outcome, never an error."""
    out = _Applied()
    for fp in files:
        path = fp.new_path if reverse else fp.old_path
        text = state.get(path)
        if path and text is None:
            why = state.why_absent(path)
        elif fp.created and not reverse and state.get(fp.new_path) is not None:
            why = "the patch creates a file the tree already has"
        else:
            why = None
        if why is not None:
            # Unless the file the patch creates is there already, exactly: then it is present.
            present = why.startswith("the patch creates") and \
                apply_file(state.get(fp.new_path), fp, reverse=True).complete
            out.hunks += [(fp, HunkOutcome(h.patch_line, h.header, "already" if present else "failed",
                                           reason=why)) for h in fp.hunks]
            continue
        res = apply_file(text, fp, reverse=reverse)
        if not reverse and any(h.status == "failed" for h in res.hunks):
            res = _merged(state, fp, text, res) or res
        out.hunks += [(fp, h) for h in res.hunks]
        if not any(h.status in ("applied", "merged") for h in res.hunks):
            continue
        if reverse:
            _record(out.before, out.after, fp, res.text, text)
            # Taken back out: what the reversal added are the patch's removed lines.
            out.added[fp.new_path], out.removed[fp.old_path] = res.removed, res.added
            kept = res.kept.swapped()
        else:
            # The file before is the file as the state has it: no copy is kept (the whole 6.1 ->
            # 6.12 x86 change touches 2,888 files, 35 MB); the tree before reads it there.
            _record(out.before, out.after, fp, _AS_THE_STATE_HAS_IT, res.text)
            if not stands(fp.new_path, text, res.text):
                # No finding can stand in the file, so none is placed: the lines it adds are
                # not kept (a 200 MB patch of new files held 3.4 million of them).
                continue
            out.added[fp.new_path], out.removed[fp.old_path] = res.added, res.removed
            kept = res.kept
        if fp.old_path and fp.new_path:
            out.kept[fp.old_path] = (fp.new_path, kept)
    return out


@dataclass(frozen=True)
class _WhereFindingsStand:
    """Where a finding of the review can stand: a file either side of which a scan would read
    (it names pv_ops: naming.CANDIDATE_RE), or a header an ABI given lays out a shared area
    from (a PV011 in xen.h goes to the line that moved the field)."""

    area_headers: frozenset[str] = frozenset()

    def __call__(self, path: str | None, *texts: bytes | None) -> bool:
        from pvscan.naming import CANDIDATE_RE

        return path in self.area_headers or any(t and CANDIDATE_RE.search(t) for t in texts)


def _merged(state: PatchedSource, fp: FilePatch, text: bytes | None, res: Applied):
    """The file patched through a three-way merge from the blob the patch names, as
    'git apply --3way' would: an Applied whose failed hunks are 'merged', or None."""
    from pvscan.review.apply import Applied
    from pvscan.review.merge import line_changes, three_way

    if not fp.blobs or text is None:
        return None
    blob = fp.blobs[0]
    base = state.blob(blob)
    if base is None:
        return None
    theirs = apply_file(base, fp, fuzz=0)
    if not theirs.complete:
        return None
    merged = three_way(text, base, theirs.text)
    if merged is None:
        return None
    added, removed, kept = line_changes(text, merged)
    outcomes = [replace(h, status="merged", reason=f"three-way merge from blob {blob}")
                if h.status == "failed" else h for h in res.hunks]
    return Applied(merged, added, removed, outcomes, kept)


def _review_one(index: int, patch: Patch, state: PatchedSource, abis: Sequence[Abi], backend_map: BackendMap,
                guards: LazyGuardLogic | None = None, tree: Source | None = None, jobs: int | None = None,
                progress: Progress = NONE) -> tuple[PatchReview, PatchedSource]:
    """(PatchReview, the files as this patch leaves them). tree: the tree the patches apply to,
    whose Kconfig and headers complete an ABI's configuration where the patch needs it."""
    result = PatchReview(index, patch.subject, patch.author, patch.date, patch.files, lines=patch.lines)
    usable, unread = [], []
    for fp in patch.files:
        if fp.problem:
            result.warnings.append(Warning_(fp.path, 0, fp.problem))
        elif fp.path.endswith((".c", ".h")):
            usable.append(fp)
        else:
            unread.append(fp)           # listed once the ops are known, never dropped without a word
    consulted = guards.consulted if guards is not None else 0
    stands = _WhereFindingsStand(frozenset(h for abi in abis or () for area in abi.areas for h in area.headers))
    change, applied = _apply(usable, state, reverse=False, stands=stands), True
    if not change.count("applied") and not change.count("merged") and change.count("already"):
        # Nothing applies and some of it is there: the tree holds the patch (b4 prep, a staged
        # change). Review it taken back out.
        change, applied = _apply(usable, state, reverse=True, stands=stands), False
    before, after, added, removed = change.before, change.after, change.added, change.removed
    result.already_applied = not applied

    side_b = state.with_overlay({r: d for r, d in before.items() if r})
    side_a = state.with_overlay({r: d for r, d in after.items() if r})
    scanned_b = inventory_of(side_b, backend_map, jobs, progress)
    scanned_a = inventory_of(side_a, backend_map, jobs, progress)
    result.warnings.extend(scanned_b.read_warnings + scanned_a.read_warnings)
    inv_b, inv_a = scanned_b.inventory, scanned_a.inventory
    anchor = _Anchor(added, removed, change.kept)
    by_options, judged = option_changes([fp for fp in unread if is_kconfig(fp.path)], state, guards, inv_a.ops)
    listed = list(HunkNotReviewed().unread([fp for fp in unread if fp.path not in judged], inv_b.ops + inv_a.ops))
    result.findings = (diff(inv_b, inv_a, anchor, guards) + hunk_findings(change.hunks, applied) + listed
                       + _unapplied_signatures(change.hunks, inv_b.ops) + by_options)
    if abis:
        from pvscan.checks.check import check

        # An op the patch renames keeps its findings: vmi not mapping flush_tlb_others before is
        # vmi not mapping flush_tlb_multi after, not a new finding.
        renamed = {dict(f.args)["old"]: f.op for f in result.findings if f.code == OpRenamed.code}
        version = getattr(state, "version", None)
        abis = _completed_for(abis, result.findings, inv_b, inv_a, tree, guards)
        old = {replace(f, op=renamed.get(f.op, f.op)).fingerprint
               for f in check(inv_b, abis, version=version).findings}
        changed = _op_changes(result.findings)
        for f in check(inv_a, abis, version=version).findings:
            if f.fingerprint not in old:
                result.findings.append(anchor.place(f) if f.in_tree else _on_patch_line(f, changed))
        result.findings = _errors_where_mapped(result.findings, abis, inv_b.ops, version)
        changed_files = {p for fp in usable for p in (fp.old_path, fp.new_path) if p}
        result.findings.extend(anchor.place(f) for f in _area_changes(side_b, side_a, abis, version, changed_files))
    if guards is not None and guards.consulted > consulted:
        result.warnings.extend(_judged_before(patch.files, guards))
    result.findings.sort(key=lambda f: (f.file, f.line, f.side, f.code, f.op, f.message))
    if applied:
        renamed_away = {fp.old_path: None for fp in usable if fp.old_path and fp.old_path != fp.new_path}
        state = state.with_overlay({**side_a.overlay, **renamed_away})
    return result, state


def _errors_where_mapped(findings: list[Finding], abis: Sequence[Abi], ops: Iterable[Op],
                         version: KernelVersion | None) -> list[Finding]:
    """A change of an op's signature or convention is an error where an ABI given maps the op:
    its mapping was written against what the patch changes. The evidence names the mapping."""
    from pvscan.checks.areas import version_number
    from pvscan.identity import OpIndex

    index, number = OpIndex(ops), version_number(version)
    mapped: dict[str, list[str]] = {}
    for abi in abis:
        for m in abi.mappings:
            op, _how = index.find(m.op)
            if op is not None and m.covers(number) is not False:
                mapped.setdefault(op.name, []).append(f"ABI {abi.name} maps {m.op} (to = {m.to}): {m.source}")
    kinds = (SignatureChanged.code, ConventionChanged.code)
    return [replace(f, severity="error", evidence=f.evidence + tuple(mapped[f.op]))
            if f.code in kinds and f.op in mapped else f for f in findings]


def _unapplied_signatures(outcomes: list[tuple[FilePatch, HunkOutcome]], ops: Iterable[Op]) -> list[Finding]:
    """PV104 of the hunks that did not apply, from their own lines: a type change of an op is
    named whether its hunk applies to the tree or not."""
    failed = [(fp, hunk) for fp, outcome in outcomes if outcome.status == "failed"
              for hunk in fp.hunks if hunk.patch_line == outcome.patch_line]
    return [f for fp, hunk in failed for f in SignatureChanged().unapplied(fp, hunk, ops)]


def _area_changes(before: PatchedSource, after: PatchedSource, abis: Sequence[Abi], version: KernelVersion | None,
                  files: set[str]) -> list[Finding]:
    """The shared-area findings (PV011) the patch brings: a field of struct kvm_steal_time or
    struct vcpu_info it moves, resizes or removes, read in the headers as the patch leaves them.
    Only the areas declared in a file the patch changes are laid out (files: their paths)."""
    from pvscan.checks.areas import area_findings

    def key(f: Finding):
        return (f.code, f.abi, f.op, f.message)
    old = {key(f) for f in area_findings(before, abis, version, files)}
    return [f for f in area_findings(after, abis, version, files) if key(f) not in old]


def _judged_before(files: Iterable[FilePatch], guards: LazyGuardLogic) -> list[Warning_]:
    """A warning for each Kconfig, Makefile or Kbuild file the patch changes that this review
    read to compare guards or to complete an ABI's configuration: read as the tree has it,
    before the patch (pvscan applies only a patch's .c and .h files)."""
    read, any_kconfig = guards.files_read()
    out = []
    for fp in files:
        for path in sorted({p for p in (fp.old_path, fp.new_path) if p}):
            if path in read or (any_kconfig and path.rpartition("/")[2].startswith("Kconfig")):
                out.append(Warning_(path, 0, "the patch changes this file, which the review read as it was "
                                             "before the patch to judge the #if changes' guards (its Kconfig "
                                             "changes are judged on their own: PV106 of the options they change)"))
    return out


def _completed_for(abis: Sequence[Abi], findings: list[Finding], inv_b: Inventory, inv_a: Inventory,
                   tree: Source | None, guards: LazyGuardLogic | None) -> Sequence[Abi]:
    """The ABIs, each with its configuration completed from the tree as check completes it
    (checks.target), when the guard of an op the patch changes tests something it leaves
    unset: what check says of the patched tree, review says of the patch. Only then, since
    reading the Kconfig costs more than the rest of a one-commit review."""
    from pvscan.source import ListedSource

    if tree is None or not isinstance(tree, ListedSource):
        return abis
    from pvscan.checks.target import complete_config, leaves_unset

    touched = {f.op for f in findings if f.op}
    ops = [o for inv in (inv_b, inv_a) for o in inv.ops if o.name in touched]
    out = []
    for abi in abis:
        if leaves_unset(ops, abi):
            # Both sides' guards at once: the Kconfig and the headers are read for them together.
            abi, _notes = complete_config(tree, inv_b.ops + inv_a.ops, abi, guards)
        out.append(abi)
    return out


_OP_CHANGES = frozenset(kind.code for kind in change_kinds() if kind.changes_op)


@dataclass(frozen=True)
class _Named:
    """Something with a name, for OpIndex to look up."""

    name: str


def _op_changes(findings: Iterable[Finding]) -> dict[str, Finding]:
    """{op name: the first interface change of it in the patch}, its old name (a rename) too."""
    out: dict[str, Finding] = {}
    for f in sorted(findings, key=lambda f: (f.code, f.file, f.line)):
        if f.code in _OP_CHANGES:
            out.setdefault(f.op, f)
            old = dict(f.args).get("old")
            if isinstance(old, str) and old:
                out.setdefault(old, f)
    return out


def _on_patch_line(f: Finding, changed: dict) -> Finding:
    """An ABI finding the patch causes, moved from the ABI file to the patch line that causes it
    (the op's addition, removal, rename or change); the ABI file's line stays as evidence. The
    finding names the op as the ABI does; pvscan.identity finds it among the changed ops."""
    from pvscan.identity import OpIndex

    op, _how = OpIndex([_Named(n) for n in sorted(changed)]).find(f.op)
    cause = changed.get(op.name) if op is not None else None
    if cause is None:
        return f
    return replace(f, file=cause.file, line=cause.line, side=cause.side, old_line=cause.old_line, in_tree=True,
                   evidence=f.evidence + (f"declared in {f.file}:{f.line}",))


_AS_THE_STATE_HAS_IT = object()


def _record(before: dict[str, bytes | None], after: dict[str, bytes | None], fp: FilePatch,
            old_text: bytes | None | object, new_text: bytes | None) -> None:
    """Both sides of one file change; a renamed or deleted path is absent after, a new one before."""
    if fp.old_path:
        if old_text is None or isinstance(old_text, bytes):     # not _AS_THE_STATE_HAS_IT
            before[fp.old_path] = old_text
        after.setdefault(fp.old_path, None)
    if fp.new_path:
        after[fp.new_path] = new_text
        if fp.new_path != fp.old_path:
            before.setdefault(fp.new_path, None)


class _Anchor:
    """Moves a location onto the nearest line the patch added, or, for what it removed, onto the
    nearest line of the new file that survives, with the removed line kept in the finding."""

    def __init__(self, added: dict[str, set[int]], removed: dict[str, set[int]],
                 kept: dict[str, tuple[str, KeptLines]]) -> None:
        self.added = {k: sorted(v) for k, v in added.items() if k}
        self.removed = {k: sorted(v) for k, v in removed.items() if k}
        self.kept = kept

    def place(self, f: Finding, side: str = "new", above: bool = False) -> Finding:
        """above: prefer the nearest changed line before the location (the #if that guards it)."""
        lines = (self.added if side == "new" else self.removed).get(f.file)
        line = f.line
        if lines:
            i = bisect.bisect_right(lines, f.line)
            if above and i > 0:
                line = lines[i - 1]
            else:
                near = [lines[j] for j in (i - 1, i) if 0 <= j < len(lines)]
                line = min(near, key=lambda n: (abs(n - f.line), n > f.line))
        if side == "old" and lines:
            return self._surviving(f, line)
        # About a file the patch does not touch (a call site whose op went): the line is the same
        # before and after.
        return replace(f, line=line, side=side if lines else "new")

    def _surviving(self, f: Finding, old_line: int) -> Finding:
        """A removed line's finding, placed where a reviewer of the new file can click: the new
        line of the nearest old line the patch keeps (a deleted file has none: its old line)."""
        new_path, kept = self.kept.get(f.file, (None, None))
        nearest = kept.nearest(old_line) if kept else None
        if nearest is None or new_path is None:
            return replace(f, line=old_line, side="old", old_line=old_line)
        return replace(f, file=new_path, line=nearest[1], side="old", old_line=old_line)
