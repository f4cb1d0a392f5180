from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import HunkKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch


class HunkMoved(HunkKind):
    """A hunk applied somewhere else than its header says, or with fuzz.

    ## What it does
    Reports each hunk that applied at an offset from its stated line, or
    only without some of its context lines (fuzz, up to two at each end,
    as GNU patch allows), with where and how.

    ## Why it matters
    The tree differs from the one the patch was made against around that
    hunk: the annotations are right for this tree, and a reviewer may want
    to know the patch was not made for it.

    ## Example
    `Hunk #2 succeeded at 214 with fuzz 1 (offset 3 lines)` in GNU patch's words.

    ## How to fix
    Nothing to fix; rebase the patch to make it exact.
    """

    code, name, severity = "PV122", "hunk-moved", "note"
    message = "hunk {hunk} applied at line {at} with fuzz {fuzz} (offset {offset} lines)"

    def outcome(self, fp: FilePatch, hunk: HunkOutcome, applied: bool) -> Iterator[Finding]:
        if applied and hunk.status == "applied" and (hunk.fuzz or hunk.offset):
            yield self.hunk_finding(fp, hunk, hunk.at, at=hunk.at, fuzz=hunk.fuzz, offset=hunk.offset)


RULE = HunkMoved
