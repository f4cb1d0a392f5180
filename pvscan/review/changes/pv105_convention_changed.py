from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class ConventionChanged(ChangeKind):
    """The patch changes an op between a plain function pointer and callee-save.

    ## What it does
    Compares each op's calling convention before and after.

    ## Why it matters
    Callee-save ops need implementations that keep registers: every backend
    must add or drop its thunks, and clobbering hypercalls stop fitting.
    With an ABI given (`--abi`) that maps the op, the finding is an error,
    its evidence the mapping.

    ## Example
    `mmu.read_cr2` became a `struct paravirt_callee_save` in Linux 5.x.

    ## How to fix
    Review every backend's implementation and the ABIs' `thunk` flags.
    """

    code, name, severity = "PV105", "convention-changed", "warning"
    changes_op = changes_interface = True
    counted_as = "convention change(s)"
    message = "patch changes the calling convention of {op}: {before} -> {after}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        b, a = pair.before, pair.after
        if b is not None and a is not None and b.convention != a.convention:
            yield self.finding(a, a.file, a.line, before=b.convention, after=a.convention)


RULE = ConventionChanged
