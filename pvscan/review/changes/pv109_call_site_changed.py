from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.review.changes.base import ChangeKind, describe_site, where

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pvscan.findings import Finding
    from pvscan.inventory.model import CallSite
    from pvscan.review.changes.base import OpPair


class CallSiteChanged(ChangeKind):
    """The patch changes how a call site calls an op (its arity, return type, ALT_ replacement or condition, guard).

    ## What it does
    Matches call sites by op, file, function and macro (whatever its
    arity), and compares arity, the return type a PVOP_CALL names, the
    ALT_ native replacement and feature condition, and the `#if` guard
    around the call.

    ## Why it matters
    An ALT_ call site patched to native code under a feature bypasses
    every backend when the feature is set.

    ## Example
    `PVOP_VCALL1(mmu.write_cr3, x)` becoming `PVOP_ALT_VCALL1(mmu.write_cr3, x, "mov %%rdi, %%cr3", ALT_NOT_XEN)`.

    ## How to fix
    Nothing to fix; it is for the reviewer.
    """

    code, name, severity = "PV109", "call-site-changed", "note"
    changes_use = True
    message = "patch changes a call site of {op}{where}: {before} -> {after}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        for c, before in pair.sites.changed:
            guarded = not pair.same_guard(before.guard, c.guard)
            if not guarded and _same_form(before, c):
                continue   # only the guard's spelling changed
            yield self.finding(pair.op, c.file, c.line, where=where(c), before=describe_site(before, guarded),
                               after=describe_site(c, guarded))


def _same_form(a: CallSite, b: CallSite) -> bool:
    return (a.kind, a.arity, a.return_type, a.alt_replacement, a.alt_condition_means or a.alt_condition) == \
        (b.kind, b.arity, b.return_type, b.alt_replacement, b.alt_condition_means or b.alt_condition)


RULE = CallSiteChanged
