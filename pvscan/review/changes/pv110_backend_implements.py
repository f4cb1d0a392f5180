from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, implementations, swaps

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class BackendStarts(ChangeKind):
    """A backend starts implementing an op, or installs another function for it.

    ## What it does
    Compares the (backend, function) pairs of each op before and after.

    ## Why it matters
    The backend's hypercall use for that op changes.

    ## Example
    Xen PV installing `xen_enter_mmap` for `mmu.enter_mmap`.

    ## How to fix
    Update the backend's ABI mapping if the op now ends in another hypercall.
    """

    code, name, severity = "PV110", "backend-implements", "note"
    changes_use = True
    message = "backend {backend} now implements {op} with {function}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        before = implementations(pair.before)
        after = implementations(pair.after)
        swapped = swaps(pair)
        for key in sorted(set(after) - set(before)):
            if key[0] in swapped:
                continue            # one finding of the swap: PV116
            i = after[key]
            yield self.finding(pair.op, i.file, i.line, backend=i.backend, function=i.function)


RULE = BackendStarts
