from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import HunkKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch


class HunkPresent(HunkKind):
    """A hunk of the patch is already in the tree.

    ## What it does
    Reports each hunk whose new side is already in its file, while other
    hunks of the patch apply. Such a hunk changes nothing and is left out.

    ## Why it matters
    The tree holds part of the patch (a partial backport, a fix already
    merged): what the review reports is what the rest of the patch adds.

    ## Example
    A series whose first hunk a stable backport already carries.

    ## How to fix
    Nothing to fix; drop the hunk from the patch if it is to be applied.
    """

    code, name, severity = "PV121", "hunk-present", "note"
    message = "hunk {hunk} is already in the tree at line {at}; left out"

    def outcome(self, fp: FilePatch, hunk: HunkOutcome, applied: bool) -> Iterator[Finding]:
        if applied and hunk.status == "already":
            yield self.hunk_finding(fp, hunk, hunk.at, at=hunk.at)


RULE = HunkPresent
