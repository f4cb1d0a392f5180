from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class OpRemoved(ChangeKind):
    """The patch removes an op from a table.

    ## What it does
    Reports each op the tree had before the patch and not after (unless it
    was renamed: PV103).

    ## Why it matters
    Backends that implement it and ABIs that map it lose their target.

    ## Example
    Linux 6.2 removed `mmu.activate_mm` and `mmu.dup_mmap`.

    ## How to fix
    Check every backend's implementation is gone too and update the ABIs.
    """

    code, name, severity = "PV102", "op-removed", "warning"
    changes_op = changes_interface = True
    counted_as = "op(s) removed"
    message = "patch removes op {op}"

    side = "old"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        if pair.after is None and pair.before is not None and pair.renamed_to is None:
            o = pair.before
            yield self.finding(o, o.file, o.line)


RULE = OpRemoved
