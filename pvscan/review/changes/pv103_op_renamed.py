from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, moved

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class OpRenamed(ChangeKind):
    """The patch renames an op: one removed and one added in the same group with the same signature.

    ## What it does
    Pairs a removed and an added op of the same table and group whose
    signature and convention are the same, when the pairing is unambiguous.

    ## Why it matters
    A rename keeps the interface but breaks every name that refers to it:
    backends, ABIs, out-of-tree code.

    ## Example
    `flush_tlb_single` becoming `flush_tlb_one_user`.

    ## How to fix
    Rename the op in every declared ABI.
    """

    code, name, severity = "PV103", "op-renamed", "warning"
    changes_op = changes_interface = True
    counted_as = "op(s) renamed"
    message = "patch renames op {old} to {op}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        if (pair.after is None and pair.before is not None and pair.renamed_to is not None
                and not moved(pair.before, pair.renamed_to)):
            n = pair.renamed_to
            yield self.finding(n, n.file, n.line, old=pair.before.name)


RULE = OpRenamed
