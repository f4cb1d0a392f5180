from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, implementations, swaps

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class BackendStops(ChangeKind):
    """A backend stops implementing an op, or drops one of its functions for it.

    ## What it does
    Compares the (backend, function) pairs of each op before and after.

    ## Why it matters
    When a backend's last implementation of an op goes, the op falls back
    to the native default (or to NULL after a group copy).

    ## Example
    Xen PV dropping `xen_activate_mm`.

    ## How to fix
    Check the native default is right under that hypervisor.
    """

    code, name, severity = "PV111", "backend-drops", "warning"
    changes_use = True
    message = "backend {backend} no longer implements {op} with {function}"

    side = "old"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        before = implementations(pair.before)
        after = implementations(pair.after)
        swapped = swaps(pair)
        for key in sorted(set(before) - set(after)):
            if key[0] in swapped:
                continue            # one finding of the swap: PV116
            i = before[key]
            yield self.finding(pair.op, i.file, i.line, backend=i.backend, function=i.function)


RULE = BackendStops
