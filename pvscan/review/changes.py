"""What a patch does to the pv_ops interface: change kinds, numbered after the rules (PV1nn).

Each kind is documented like a rule (`pvscan rules PV104`), so that SARIF
and the docs describe review annotations the same way as check findings.
"""

from __future__ import annotations

from pvscan.checks.rules import Rule


class OpAdded(Rule):
    """The patch adds an op to a table.

    ## What it does
    Reports each op the tree has after the patch and not before.

    ## Why it matters
    A new op is new interface every hypervisor backend must decide about,
    and every declared ABI must map.

    ## Example
    Linux 6.2 added `mmu.enter_mmap`.

    ## How to fix
    Nothing to fix: review which backends need it and update the ABIs.
    """

    code, name, severity = "PV101", "op-added", "warning"
    message = "patch adds op {op} ({signature})"


class OpRemoved(Rule):
    """The patch removes an op from a table.

    ## What it does
    Reports each op the tree had before the patch and not after (unless it
    was renamed: PV103).

    ## Why it matters
    Backends that implement it and ABIs that map it lose their target.

    ## Example
    Linux 6.2 removed `mmu.activate_mm` and `mmu.dup_mmap`.

    ## How to fix
    Check every backend's implementation is gone too and update the ABIs.
    """

    code, name, severity = "PV102", "op-removed", "warning"
    message = "patch removes op {op}"


class OpRenamed(Rule):
    """The patch renames an op: one removed and one added in the same group with the same signature.

    ## What it does
    Pairs a removed and an added op of the same table and group whose
    signature and convention are the same, when the pairing is unambiguous.

    ## Why it matters
    A rename keeps the interface but breaks every name that refers to it:
    backends, ABIs, out-of-tree code.

    ## Example
    `flush_tlb_single` becoming `flush_tlb_one_user`.

    ## How to fix
    Rename the op in every declared ABI.
    """

    code, name, severity = "PV103", "op-renamed", "warning"
    message = "patch renames op {old} to {op}"


class SignatureChanged(Rule):
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
    message = "patch changes the signature of {op}: {before} -> {after}"


class ConventionChanged(Rule):
    """The patch changes an op between a plain function pointer and callee-save.

    ## What it does
    Compares each op's calling convention before and after.

    ## Why it matters
    Callee-save ops need implementations that keep registers: every backend
    must add or drop its thunks, and clobbering hypercalls stop fitting.

    ## Example
    `mmu.read_cr2` became a `struct paravirt_callee_save` in Linux 5.x.

    ## How to fix
    Review every backend's implementation and the ABIs' `thunk` flags.
    """

    code, name, severity = "PV105", "convention-changed", "warning"
    message = "patch changes the calling convention of {op}: {before} -> {after}"


class GuardChanged(Rule):
    """The patch changes the configuration under which an op exists.

    ## What it does
    Compares each op's guard (the whole #if nesting around it) before and after.

    ## Why it matters
    An op that moves under a new option appears or disappears for whole
    configurations, and for the ABIs that cover them.

    ## Example
    Ops moving under `CONFIG_PARAVIRT_XXL` in Linux 4.18.

    ## How to fix
    Update the ABIs' [abi.config] or mappings.
    """

    code, name, severity = "PV106", "guard-changed", "warning"
    message = "patch changes the guard of {op}: {before} -> {after}"


class CallSiteAdded(Rule):
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
    message = "patch adds a call site of {op}: {kind}{where}"


class CallSiteRemoved(Rule):
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
    message = "patch removes a call site of {op}: {kind}{where}"


class CallSiteChanged(Rule):
    """The patch changes how a call site calls an op (its arity, its ALT_ replacement or condition).

    ## What it does
    Matches call sites by op, file, function and macro, and compares
    arity and the ALT_ native replacement and feature condition.

    ## Why it matters
    An ALT_ call site patched to native code under a feature bypasses
    every backend when the feature is set.

    ## Example
    `PVOP_VCALL1(mmu.write_cr3, x)` becoming `PVOP_ALT_VCALL1(mmu.write_cr3, x, "mov %%rdi, %%cr3", ALT_NOT_XEN)`.

    ## How to fix
    Nothing to fix; it is for the reviewer.
    """

    code, name, severity = "PV109", "call-site-changed", "note"
    message = "patch changes a call site of {op}{where}: {before} -> {after}"


class BackendStarts(Rule):
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
    message = "backend {backend} now implements {op} with {function}"


class BackendStops(Rule):
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
    message = "backend {backend} no longer implements {op} with {function}"


CHANGE_KINDS = [OpAdded, OpRemoved, OpRenamed, SignatureChanged, ConventionChanged, GuardChanged,
                CallSiteAdded, CallSiteRemoved, CallSiteChanged, BackendStarts, BackendStops]
