from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import HunkKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch


class HunkMerged(HunkKind):
    """A hunk applied by a three-way merge from the blob the patch was made against.

    ## What it does
    When a hunk does not apply to the tree's file even with fuzz, and the
    patch's `index` line names a blob the tree's git repository has, the
    patch is applied to that blob and the change merged into the file, as
    `git apply --3way` does; this reports each hunk that took that way.

    ## Why it matters
    The file has moved on around the hunk since the patch was made: the
    review is right for this tree, and a reviewer may want to know how far
    the patch's base is from it.

    ## Example
    A list patch made on a tree where the lines next to `.enter_mmap =
    xen_enter_mmap,` read differently.

    ## How to fix
    Nothing to fix; rebase the patch to make it apply as it is.
    """

    code, name, severity = "PV123", "hunk-merged", "note"
    message = "hunk {hunk} applied by a three-way merge from blob {blob}"

    def outcome(self, fp: FilePatch, hunk: HunkOutcome, applied: bool) -> Iterator[Finding]:
        if applied and hunk.status == "merged":
            assert fp.blobs is not None     # a hunk is merged from the patch's base blob
            yield self.hunk_finding(fp, hunk, hunk.new_start, blob=fp.blobs[0])


RULE = HunkMerged
