from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pvscan.review.changes.base import HunkKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pvscan.findings import Finding
    from pvscan.inventory.model import Op
    from pvscan.review.apply import HunkOutcome
    from pvscan.review.patch import FilePatch


# What a file pvscan does not read is, for the message: a reviewer knows where to look.
_KINDS = ((("Kconfig",), "Kconfig"), ((".S", ".s"), "assembly"), (("Makefile", "Kbuild"), "build"),
          ((".lds", ".lds.S"), "linker script"), ((".rs",), "Rust"))


# A hunk that could change paravirt where the review cannot see: it names paravirt or a
# hypervisor's backend, or lies in a backend's own directory.
_PARAVIRT = re.compile(r"(?i)paravirt|pv_ops|pvop|para_site|\bxen|kvm_guest|hyperv|hypervisor|vmware|lguest|"
                       r"vmi_|pv_steal|pv_sched|PV_CALLEE_SAVE|/xen/|/hyperv/")


class HunkNotReviewed(HunkKind):
    """A hunk of the patch is in a file pvscan does not read.

    ## What it does
    Reports each hunk of a file that is not C source or a header: a
    Kconfig file, assembly (`xen-asm.S`, entry code), a Makefile, a linker
    script. The review judges the pv_ops interface from C; such a hunk is
    listed, never dropped without a word, and the patch's summary counts it.
    One whose changed lines or file name paravirt or a hypervisor backend
    (PARAVIRT, pv_ops, xen, hyperv, ...) says so, and one whose lines,
    context included, name ops of the tree (`xen_irq_enable_direct` names
    `irq.irq_enable`) lists them; either makes the summary say the patch
    may change the interface.

    ## Why it matters
    A paravirt change can live there: a `depends on PARAVIRT_XXL` moved in
    Kconfig changes when an op exists, an edit of `xen-asm.S` changes what a
    patched op runs. The annotations say nothing of it, so a person must.

    ## Example
    A patch that makes `CONFIG_PARAVIRT_SPINLOCKS` depend on `SMP` in
    arch/x86/Kconfig, beside the C it changes.

    ## How to fix
    Nothing to fix in the patch: read the hunk. (The review does read the
    tree's Kconfig as it was to compare guards, and says so on stderr.)
    """

    code, name, severity = "PV124", "hunk-not-reviewed", "note"
    message = "hunk {hunk} of {path} ({kind}) is not reviewed: pvscan judges pv_ops from C sources and headers{why}"

    def outcome(self, fp: FilePatch, hunk: HunkOutcome, applied: bool) -> tuple[()]:
        return ()

    def unread(self, files: Iterable[FilePatch], ops: Iterable[Op] = ()) -> Iterator[Finding]:
        """A finding per hunk of the file patches whose files pvscan does not read; ops: the
        inventory's ops, whose names in the hunk's changed lines it lists (xen-asm.S's
        irq_enable, a Kconfig's PARAVIRT_SPINLOCKS beside lock.kick)."""
        # An op is named by its last part (irq_enable, set_pte), but only a distinctive one.
        short: dict[str, set[str]] = {}
        for op in ops:
            last = op.name.rsplit(".", 1)[-1]
            if len(last) >= 6:
                short.setdefault(last, set()).add(op.name)
        for fp in files:
            yield from self._file(fp, short)

    def _file(self, fp: FilePatch, short: dict[str, set[str]]) -> Iterator[Finding]:
        path = fp.path
        name = path.rsplit("/", 1)[-1]
        kind = next((k for ends, k in _KINDS if name.startswith(ends) or name.endswith(ends)), "not C")
        for h in fp.hunks:
            changed = [text for t, text in h.lines if t in "+-"]
            named = _PARAVIRT.search(path) or next((m for text in changed for m in [_PARAVIRT.search(text)] if m),
                                                   None)
            # Context lines count for the ops: a change inside SYM_FUNC_START(xen_irq_disable_direct)
            # is a change of what irq.irq_disable runs (6.1 -> 6.12 moved its vcpu_info access).
            words = {w for _t, text in h.lines for w in re.findall(r"[A-Za-z_]\w*", text)}
            # The name itself or inside a word between underscores (xen_irq_enable_direct).
            found = sorted({full for w in words for last, fulls in short.items()
                            if w == last or f"_{last}_" in f"_{w}_" for full in fulls})
            why = f", and it names paravirt ({named.group()!r})" if named else ""
            if found:
                why += f"; ops its lines name: {', '.join(found[:6])}" + (" ..." if len(found) > 6 else "")
            yield self.finding("", path, max(h.new_start, 1), hunk=h.header, path=path, kind=kind, why=why,
                               paravirt=bool(named or found))


RULE = HunkNotReviewed
