from __future__ import annotations

from pvscan.review.changes.base import HunkKind

# What a file pvscan does not read is, for the message: a reviewer knows where to look.
_KINDS = ((("Kconfig",), "Kconfig"), ((".S", ".s"), "assembly"), (("Makefile", "Kbuild"), "build"),
          ((".lds", ".lds.S"), "linker script"), ((".rs",), "Rust"))


class HunkNotReviewed(HunkKind):
    """A hunk of the patch is in a file pvscan does not read.

    ## What it does
    Reports each hunk of a file that is not C source or a header: a
    Kconfig file, assembly (`xen-asm.S`, entry code), a Makefile, a linker
    script. The review judges the pv_ops interface from C; such a hunk is
    listed, never dropped without a word, and the patch's summary counts it.

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
    message = "hunk {hunk} of {path} ({kind}) is not reviewed: pvscan judges pv_ops from C sources and headers"

    def outcome(self, fp, hunk, applied):
        return ()

    def unread(self, fp):
        """A finding per hunk of a file patch whose file pvscan does not read."""
        path = fp.new_path or fp.old_path
        name = path.rsplit("/", 1)[-1]
        kind = next((k for ends, k in _KINDS if name.startswith(ends) or name.endswith(ends)), "not C")
        for h in fp.hunks:
            header = f"@@ -{h.old_start},{h.old_len} +{h.new_start},{h.new_len} @@"
            yield self.finding("", path, max(h.new_start, 1), hunk=header, path=path, kind=kind)


RULE = HunkNotReviewed
