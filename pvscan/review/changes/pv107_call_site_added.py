from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, where

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class CallSiteAdded(ChangeKind):
    """The patch adds a call site of an op.

    ## What it does
    Reports a PVOP_* use, direct call or read of an op that is new.

    ## Why it matters
    A new caller of an op widens what depends on it.

    ## Example
    A new wrapper calling `PVOP_VCALL1(mmu.exit_mmap, mm)`.

    ## How to fix
    Nothing to fix; it is for the reviewer.
    """

    code, name, severity = "PV107", "call-site-added", "note"
    changes_use = True
    message = "patch adds a call site of {op}: {kind}{where}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        for c in pair.sites.added:
            yield self.finding(pair.op, c.file, c.line, kind=c.kind, where=where(c))


RULE = CallSiteAdded
