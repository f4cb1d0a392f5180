from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.inventory.model import signature_of
from pvscan.review.changes.base import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class SignatureChanged(ChangeKind):
    """The patch changes an op's return type or parameter types.

    ## What it does
    Compares each op's signature (types only) before and after.

    ## Why it matters
    Every implementation and every hypercall mapping was written against
    the old signature.

    ## Example
    A third parameter added to `mmu.set_pte`.

    ## How to fix
    Update the implementations and the ABIs' pinned signatures.
    """

    code, name, severity = "PV104", "signature-changed", "warning"
    changes_op = changes_interface = True
    counted_as = "signature change(s)"
    message = "patch changes the signature of {op}: {before} -> {after}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        b, a = pair.before, pair.after
        if b is None or a is None:
            return
        before, after = signature_of(b), signature_of(a)
        if before != after and before and after:
            yield self.finding(a, a.file, a.line, before=before, after=after)


RULE = SignatureChanged
