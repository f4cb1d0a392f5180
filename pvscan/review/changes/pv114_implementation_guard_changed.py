from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, implementations

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.review.changes.base import OpPair


class ImplementationGuardChanged(ChangeKind):
    """A backend's implementation of an op moves under another configuration.

    ## What it does
    Compares the `#if` guard around each (backend, function) that fills
    an op, before and after the patch; guards equal under the tree's
    Kconfig are equal (see PV106).

    ## Why it matters
    Under the configurations the implementation leaves, the backend falls
    back to the native default (or to NULL after a group copy), which is
    a change for that hypervisor even though the op itself did not move.

    ## Example
    KVM's `kvm_kick_cpu` moving out of `#ifdef CONFIG_PARAVIRT_SPINLOCKS`.

    ## How to fix
    Check the op under every configuration the guard change adds or drops.
    """

    code, name, severity = "PV114", "implementation-guard-changed", "note"
    message = "the guard of {backend}'s {function} for {op} changes: {before} -> {after}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        before, after = implementations(pair.before), implementations(pair.after)
        for key in sorted(set(before) & set(after)):
            b, a = before[key], after[key]
            if not pair.same_guard(b.guard, a.guard):
                yield self.finding(pair.op, a.file, a.line, backend=a.backend, function=a.function,
                                   before=b.guard or "(unconditional)", after=a.guard or "(unconditional)")


RULE = ImplementationGuardChanged
