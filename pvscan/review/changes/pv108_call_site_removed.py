from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, where

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class CallSiteRemoved(ChangeKind):
    """The patch removes a call site of an op.

    ## What it does
    Reports a PVOP_* use, direct call or read of an op that is gone.

    ## Why it matters
    An op without call sites may be ready for removal.

    ## Example
    The last `PVOP_VCALL2(mmu.activate_mm, ...)` going away.

    ## How to fix
    Nothing to fix; it is for the reviewer.
    """

    code, name, severity = "PV108", "call-site-removed", "note"
    changes_use = True
    message = "patch removes a call site of {op}: {kind}{where}"

    side = "old"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        for c in pair.sites.removed:
            yield self.finding(pair.op, c.file, c.line, kind=c.kind, where=where(c))


RULE = CallSiteRemoved
