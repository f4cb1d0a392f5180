from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.inventory.model import signature_of
from pvscan.review.changes.base import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class OpAdded(ChangeKind):
    """The patch adds an op to a table.

    ## What it does
    Reports each op the tree has after the patch and not before.

    ## Why it matters
    A new op is new interface every hypervisor backend must decide about,
    and every declared ABI must map.

    ## Example
    Linux 6.2 added `mmu.enter_mmap`.

    ## How to fix
    Nothing to fix: review which backends need it and update the ABIs.
    """

    code, name, severity = "PV101", "op-added", "warning"
    changes_op = changes_interface = True
    counted_as = "op(s) added"
    message = "patch adds op {op} ({signature})"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        if pair.before is None and pair.after is not None and pair.renamed_from is None:
            n = pair.after
            yield self.finding(n, n.file, n.line, signature=signature_of(n) or n.convention)


RULE = OpAdded
