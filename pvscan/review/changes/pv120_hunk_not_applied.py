from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import HunkKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch


class HunkNotApplied(HunkKind):
    """A hunk of the patch does not apply to the tree and is not in it either.

    ## What it does
    Reports each hunk that cannot be placed in its file, at its line, at
    any offset, or with up to two lines of fuzz at each end (as GNU patch
    applies), and whose result is not in the file already. The rest of the
    patch is reviewed without it.

    ## Why it matters
    The review is partial: whatever that hunk does to pv_ops is not in the
    annotations. The patch was made against another tree.

    ## Example
    A patch from the list archive, made against a newer tree, whose
    context around `PVOP_VCALL1(mmu.write_cr3, x)` has since changed.

    ## How to fix
    Review against the tree the patch was made for (its `base-commit:`),
    or rebase the patch.
    """

    code, name, severity = "PV120", "hunk-not-applied", "warning"
    message = "hunk {hunk} of {path} does not apply ({reason}); the review leaves it out"

    def outcome(self, fp: FilePatch, hunk: HunkOutcome, applied: bool) -> Iterator[Finding]:
        if hunk.status == "failed" or (not applied and hunk.status == "already"):
            reason = hunk.reason or "it is neither in the file nor applies to it"
            yield self.hunk_finding(fp, hunk, hunk.new_start, path=fp.new_path or fp.old_path, reason=reason)


RULE = HunkNotApplied
