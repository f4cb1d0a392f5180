from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.inventory.model import Op
    from pvscan.review.changes.base import OpPair


class GuardChanged(ChangeKind):
    """The patch changes the configuration under which an op exists.

    ## What it does
    Compares each op's guard (the whole #if nesting around it) before and after.
    Guards that differ as text but hold in the same configurations under the
    tree's Kconfig (read with kconfiglib) are equal: wrapping
    `#ifdef CONFIG_PARAVIRT_XXL` in `#ifdef CONFIG_PARAVIRT` changes nothing,
    since PARAVIRT_XXL can only be set with PARAVIRT. A patch's Kconfig hunks
    are read too: the tree's Kconfig is read again as they leave it, and an
    option an op's guard names that now needs, excludes or is selected by
    other options (or takes other defaults) changes the op's guard the same
    way, named at the Kconfig line.

    ## Why it matters
    An op that moves under a new option appears or disappears for whole
    configurations, and for the ABIs that cover them.

    ## Example
    Ops moving under `CONFIG_PARAVIRT_XXL` in Linux 4.18.

    ## How to fix
    Update the ABIs' [abi.config] or mappings.
    """

    code, name, severity = "PV106", "guard-changed", "warning"
    changes_op = changes_interface = True
    counted_as = "guard change(s)"
    message = "patch changes the guard of {op}: {before} -> {after}"
    in_kconfig = "patch changes what the guard of {op} ({guard}) means: in the Kconfig, {option} {change}"

    anchor_above = True

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        b, a = pair.before, pair.after
        if b is not None and a is not None and not pair.same_guard(b.guard, a.guard):
            yield self.finding(a, a.file, a.line, before=b.guard or "(unconditional)",
                               after=a.guard or "(unconditional)")


    def option(self, op: Op, file: str, line: int, option: str, change: str) -> Finding:
        """The op's guard names an option the patch's Kconfig hunks change: at the Kconfig line."""
        return self.finding(op, file, line, template=self.in_kconfig, guard=op.guard or "(unconditional)",
                            option=option, change=change)


RULE = GuardChanged
