from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.checks.rules import CheckRule

if TYPE_CHECKING:
    from pvscan.checks.rules import Context


class AreaLayout(CheckRule):
    """A shared area's field is not where the hypervisor's specification puts it.

    ## What it does
    Lays out each [[area]] of the ABI (the struct a guest shares with the
    hypervisor: KVM's `struct kvm_steal_time`, Xen's `struct vcpu_info`)
    from the tree's headers, for the ABI's target and configuration, and
    compares every field with the offset and size the ABI file takes from
    the hypervisor's specification. A field that moved, changed size or
    vanished is an error naming the area, the field, both offsets and the
    call that registers the area. A struct the headers do not define is a
    warning; a layout pvscan cannot compute (a bit-field, a type of no known
    size, an array length the headers' macros do not fix) is a note, never a
    guess.

    ## Why it matters
    The hypervisor writes the area behind the guest's back, at the offsets
    it was built with: a reordered `struct kvm_steal_time` makes the guest
    read steal time from `version`, and an `evtchn_upcall_mask` moved in
    `struct vcpu_info` leaves interrupts unmasked under Xen. Nothing fails
    to compile; the guest breaks at run time.

    ## Example
    A patch that swaps `version` and `flags` in `struct kvm_steal_time`
    (arch/x86/include/uapi/asm/kvm_para.h), which MSR_KVM_STEAL_TIME
    registers with KVM: `version` is at offset 12, the specification (the
    kernel's Documentation/virt/kvm/x86/msr.rst) says 8.

    ## How to fix
    Keep the struct as the specification lays it out; a new field goes where
    the specification adds it (into padding), with the hypervisor's agreement.
    """

    code = "PV011"
    name = "area-layout"
    severity = "error"
    message = "{what} (ABI {abi})"

    def check(self, ctx: Context) -> tuple[()]:
        return ()      # areas are checked once per ABI and tree (pvscan.checks.areas), not per op


RULE = AreaLayout
