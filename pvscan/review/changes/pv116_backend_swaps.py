from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, swaps

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class BackendSwaps(ChangeKind):
    """A backend fills an op with another function than before.

    ## What it does
    Reports each backend that fills an op with one function before the
    patch and with another one after it, once, on the line of the new
    assignment, naming both functions and the old line.

    ## Why it matters
    The op now runs other code in that backend's guests: a different
    hypercall, or none. Said as a drop and an addition, a swap read as two
    changes, the drop anchored on a neighbouring line.

    ## Example
    Xen PV filling `cpu.wbinvd` with `xen_wbinvd` where it was
    `native_wbinvd`.

    ## How to fix
    Nothing to fix in itself; check the backend's ABI mapping against what
    the new function calls (`check --trace-glue`).
    """

    code, name, severity = "PV116", "backend-swaps", "note"
    changes_use = True
    message = "backend {backend} now implements {op} with {function} instead of {old} (line {old_line} before the patch)"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        for backend, (old, new) in swaps(pair).items():
            yield self.finding(pair.op, new.file, new.line, backend=backend, function=new.function,
                               old=old.function, old_line=old.line)


RULE = BackendSwaps
