"""Bad input and unsafe outputs: one line and exit 2 where the run cannot go on, never a hang,
never a write outside the requested output, never a change to the tree."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture_tree, git_checkout, pvscan

GEN3 = fixture_tree("gen3-unified")
TYPES = "arch/x86/include/asm/paravirt_types.h"
SET_PMD = "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);"


def snapshot(tree):
    return sorted((str(p.relative_to(tree)), p.is_symlink() or p.stat().st_size)
                  for p in tree.rglob("*"))


@pytest.fixture
def tree(tmp_path):
    copy = tmp_path / "tree"
    shutil.copytree(GEN3, copy, symlinks=True)
    return copy


def one_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pvscan: error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


# -- outputs ------------------------------------------------------------------------------

def test_output_through_a_symlink_and_dotdot_into_the_tree_is_refused(tree, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tree / "arch" / "x86")
    before = snapshot(tree)
    one_error(pvscan("scan", str(tree), "-o", f"{link}/../out.json"), "refusing to write into the kernel tree")
    assert snapshot(tree) == before and not (tree / "arch" / "out.json").exists()


def _device(path):
    """A character device node like /dev/null, of our own: the test never aims at a real one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "link to a device"])
def test_output_onto_a_special_file_or_directory_is_refused(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    elif kind == "device":
        _device(target)
    else:
        _device(tmp_path / "dev")
        target.symlink_to(tmp_path / "dev")
    proc = pvscan("scan", str(GEN3), "-o", str(target), timeout=60)
    one_error(proc, "standard output" if kind != "directory" else "is a directory")
    real = os.path.realpath(target)
    assert os.path.exists(real) and not os.path.isfile(real)


def test_dash_writes_to_standard_output():
    assert pvscan("scan", str(GEN3), "-o", "-").stdout.startswith("Linux ")


def test_no_baseline_is_written_when_the_output_cannot_be(tmp_path):
    baseline = tmp_path / "base.json"
    proc = pvscan("check", str(GEN3), "--abi", str(FIXTURES / "abi" / "toy-gen3.toml"),
                  "--write-baseline", str(baseline), "-o", str(tmp_path / "no" / "such" / "dir" / "out.txt"))
    one_error(proc, "cannot write")
    assert not baseline.exists()


def test_git_commands_refuse_outputs_inside_the_repository(tmp_path):
    repo = tmp_path / "repo"
    git_checkout(repo)("commit", "-q", "--allow-empty", "-m", "b")
    before = snapshot(repo)
    one_error(pvscan("history", "--git", str(repo), "HEAD~1", "HEAD", "-o", str(repo / "h.json")),
              "refusing to write")
    one_error(pvscan("review", "--git", str(repo), "HEAD~1..HEAD", "-o", str(repo / ".git" / "r.txt")),
              "refusing to write")
    assert snapshot(repo) == before


# -- inputs -------------------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--abi", "--backend-map", "--baseline", "--config", "--history", "patch"])
def test_a_fifo_named_as_an_input_is_an_error_not_a_hang(tmp_path, option):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = {
        "--abi": ["check", str(GEN3), "--abi", str(fifo)],
        "--backend-map": ["scan", str(GEN3), "--backend-map", str(fifo)],
        "--baseline": ["check", str(GEN3), "--abi", "xen-pv", "--baseline", str(fifo)],
        "--config": ["check", str(GEN3), "--abi", "xen-pv", "--precise", "--config", str(fifo)],
        "--history": ["report", str(GEN3), "--history", str(fifo), "-o", str(tmp_path / "r.html")],
        "patch": ["review", "--tree", str(GEN3), str(fifo)],
    }[option]
    one_error(pvscan(*args, timeout=60), "not a regular file", str(fifo))


def test_a_character_device_as_an_input_is_an_error(tmp_path):
    _device(tmp_path / "dev")
    one_error(pvscan("check", str(GEN3), "--abi", str(tmp_path / "dev"), timeout=60), "not a regular file")


@pytest.mark.parametrize("ripgrep", [True, False])
def test_fifos_and_devices_in_the_tree_are_skipped_the_same_with_or_without_ripgrep(tree, ripgrep):
    clean = pvscan("scan", str(GEN3), "--format", "json", "-j", "1").stdout
    os.mkfifo(tree / "arch" / "x86" / "kernel" / "pipe.c")
    try:
        os.mknod(tree / "arch" / "x86" / "kernel" / "zero.c", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except PermissionError:
        pass
    env = {} if ripgrep else {"PVSCAN_NO_RIPGREP": "1"}
    proc = pvscan("scan", str(tree), "--format", "json", "-j", "1", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.replace(str(tree), str(GEN3)) == clean


def test_a_makefile_pointing_out_of_the_tree_is_refused(tree, tmp_path):
    other = tmp_path / "Makefile"
    other.write_text("VERSION = 9\nPATCHLEVEL = 9\n")
    (tree / "Makefile").unlink()
    (tree / "Makefile").symlink_to(other)
    one_error(pvscan("scan", str(tree)), "points outside the tree")


def test_a_fifo_as_the_makefile_is_refused(tree):
    (tree / "Makefile").unlink()
    os.mkfifo(tree / "Makefile")
    one_error(pvscan("scan", str(tree), timeout=60), "not a regular file")


def test_a_huge_sparse_makefile_is_read_only_at_its_head(tree):
    with open(tree / "Makefile", "r+b") as f:
        f.seek(2 * 1024 ** 3)
        f.write(b"\n")
    proc = pvscan("scan", str(tree), "--no-callers", timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("Linux 6.6.0:")


def test_deeply_nested_ifdefs_around_an_op_keep_their_whole_guard(tree):
    """20,000 nested #ifdefs: every one is in the op's guard (and the scan does not go quadratic)."""
    n = 20000
    (tree / "arch/x86/include/asm/deep.h").write_text(
        "struct pv_deep_ops {\n" + "".join(f"#ifdef CONFIG_X{i}\n" for i in range(n))
        + "\tvoid (*f)(void);\n" + "#endif\n" * n + "};\nextern struct pv_deep_ops pv_deep_ops;\n")
    proc = pvscan("scan", str(tree), "--format", "json", "--no-callers", "-j", "1", timeout=120)
    import json

    (op,) = [o for o in json.loads(proc.stdout)["ops"] if o["name"] == "pv_deep_ops.f"]
    assert op["guard"].count("defined(CONFIG_X") == n
    assert op["guard"].startswith("defined(CONFIG_X0) && ") and op["guard"].endswith("defined(CONFIG_X19999)")


# -- patches: strict where git apply is ---------------------------------------------------------

PATCH_HEAD = ("diff --git a/arch/x86/include/asm/paravirt_types.h b/arch/x86/include/asm/paravirt_types.h\n"
              "--- a/arch/x86/include/asm/paravirt_types.h\n+++ b/arch/x86/include/asm/paravirt_types.h\n")


def review_text(tmp_path, text, *args, tree=GEN3):
    patch = tmp_path / "p.diff"
    patch.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
    return pvscan("review", "--tree", str(tree), *args, str(patch))


@pytest.mark.parametrize("header, words", [
    ("@@ -x69,7 +69,8 @@", "malformed hunk header"),
    ("@@ -69,-7 +69,8 @@", "malformed hunk header"),
    ("@@@ -69,7 -69,7 +69,8 @@@", "combined diff"),
    ("@@ -69,0 +69,0 @@", "counts no line"),
    ("@@ -69,7 +69,8 @@", "corrupt patch"),      # no lines at all
], ids=["letter", "negative", "combined", "empty", "no-lines"])
def test_a_malformed_hunk_is_an_error_naming_its_line(tmp_path, header, words):
    proc = review_text(tmp_path, PATCH_HEAD + header + "\n")
    one_error(proc, words, "p.diff:")


def test_a_hunk_with_fewer_lines_than_it_counts_is_an_error(tmp_path):
    proc = review_text(tmp_path, PATCH_HEAD + "@@ -66,4 +66,4 @@\n context\n-old\n+new\n" + PATCH_HEAD)
    one_error(proc, "ends after", "corrupt patch")


def test_a_hunk_with_more_lines_than_it_counts_is_an_error(tmp_path):
    # As git apply ('corrupt patch'): the line after the counted ones adds an op nobody counted.
    proc = review_text(tmp_path, PATCH_HEAD + "@@ -66,1 +66,1 @@\n-old\n+new\n+\tvoid (*extra)(void);\n")
    one_error(proc, "more lines than its header counts", "p.diff:7")
    # A mail's signature after the last hunk is no such line.
    signed = review_text(tmp_path, PATCH_HEAD + "@@ -1,1 +1,1 @@\n-a\n+b\n-- \n2.39.0\n")
    assert signed.returncode in (0, 1) and "corrupt" not in signed.stderr, signed.stderr


def test_a_deleted_current_directory_is_one_error_and_absolute_paths_still_work(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    script = (f"import os, sys; os.makedirs({str(gone)!r}, exist_ok=True); os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
              "from pvscan.cli import main; sys.exit(main(sys.argv[1:]))")

    def run(*argv):
        return subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, env=env)

    one_error(run("scan"), "current directory no longer exists")
    one_error(run("check", "--abi", "kvm"), "current directory no longer exists")
    assert run("check", GEN3, "--abi", "KVM", "--fail-on", "never").returncode == 0


def test_dashes_inside_a_hunk_are_removed_lines_not_a_new_file(tmp_path):
    """'--- x' in a hunk body is the removal of a line '-- x' (a comment, say), as git apply reads it."""
    types = (GEN3 / TYPES).read_text().splitlines()
    at = next(i for i, line in enumerate(types) if "(*set_pte)(" in line)
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    lines = types[:at] + ["/*", "-- x", "*/"] + types[at:]
    (tree / TYPES).write_text("\n".join(lines) + "\n")
    # In a comment, '-- x' becomes '++ y', and the set_pte line goes. Read as file headers,
    # '--- x'/'+++ y' would start a new file and the hunk would be lost.
    body = f"@@ -{at + 2},3 +{at + 2},2 @@\n--- x\n+++ y\n */\n-{types[at]}\n"
    proc = review_text(tmp_path, PATCH_HEAD + body, "--format", "checkpatch", tree=tree)
    assert proc.returncode == 0, proc.stderr
    assert "PV102 patch removes op mmu.set_pte" in proc.stdout


def test_git_quoted_paths_are_read(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    name = "arch/x86/xen/\u00fc.c"
    (tree / name).write_text("void xen_u(void) { }\n")
    new = "void xen_u(void) { }\nvoid __init xen_u_init(void) { pv_ops.cpu.io_delay = xen_u; }\n"
    q = '"a/arch/x86/xen/\\303\\274.c"', '"b/arch/x86/xen/\\303\\274.c"'
    patch = (f"diff --git {q[0]} {q[1]}\n--- {q[0]}\n+++ {q[1]}\n@@ -1 +1,2 @@\n void xen_u(void) {{ }}\n"
             "+void __init xen_u_init(void) { pv_ops.cpu.io_delay = xen_u; }\n")
    proc = review_text(tmp_path, patch, "--format", "checkpatch", tree=tree)
    assert proc.returncode == 0, proc.stderr
    assert f"{name}:2: CHECK: PV110 backend xen now implements cpu.io_delay with xen_u" in proc.stdout
    assert new == "void xen_u(void) { }\n" + new.split("\n", 1)[1]


def test_a_new_file_over_an_existing_one_does_not_apply_forward(tmp_path):
    text = (GEN3 / "arch/x86/kernel/paravirt.c").read_text()
    added = "".join(f"+{line}\n" for line in text.splitlines())
    patch = ("diff --git a/arch/x86/kernel/paravirt.c b/arch/x86/kernel/paravirt.c\nnew file mode 100644\n"
             "--- /dev/null\n+++ b/arch/x86/kernel/paravirt.c\n"
             f"@@ -0,0 +1,{len(text.splitlines())} @@\n{added}")
    proc = review_text(tmp_path, patch)
    # The tree already holds exactly that file: it is the patch taken back out, not 'no change'.
    assert proc.returncode == 0, proc.stderr
    assert "the tree already holds this patch" in proc.stdout and "PV110" in proc.stdout


# -- options and odd names ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["scan", str(GEN3), "-j", "0"], ["scan", str(GEN3), "-j", "-1"], ["check", str(GEN3), "--abi", "vmi", "-j", "x"],
    ["history", str(GEN3), "-j", "-1"], ["report", str(GEN3), "-j", "0", "-o", "/tmp/pvscan-never.html"],
], ids=["scan-0", "scan-minus-1", "check-letter", "history-minus-1", "report-0"])
def test_every_command_checks_jobs_the_same_way(args):
    proc = pvscan(*args)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "worker process" in proc.stderr


def test_more_jobs_than_cores_or_files_is_capped_not_refused():
    assert pvscan("scan", str(GEN3), "-j", "256", "--format", "json").returncode == 0


@pytest.mark.parametrize("address, words", [("not a url", "not a scheduler address"),
                                            ("inproc://nope", "not a scheduler address")])
def test_a_bad_scheduler_address_is_one_line(address, words):
    one_error(pvscan("history", str(GEN3), "--scheduler", address), words)


def test_a_killed_ripgrep_says_so(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    # It says it is ripgrep (PVSCAN_RIPGREP must), then dies searching.
    (fake / "rg").write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "ripgrep 14.1.0"; exit 0; }\nkill -9 $$\n')
    (fake / "rg").chmod(0o755)
    proc = pvscan("scan", str(GEN3), env={"PVSCAN_RIPGREP": str(fake / "rg")})
    one_error(proc, "ripgrep failed: killed by SIGKILL")


def test_odd_file_names_are_attributed_and_written_as_valid_json(tree):
    import json

    src = "void __init xen_{0}(void) {{ pv_ops.cpu.io_delay = xen_{0}; }}\n"
    (tree / "arch/x86/xen/new\nline.c").write_text(src.format("nl"))
    with open(os.fsencode(tree / "arch/x86/xen") + b"/\xff.c", "w") as f:
        f.write(src.format("ff"))
    proc = subprocess.run([sys.executable, "-m", "pvscan", "scan", str(tree), "--format", "json"], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.decode("utf-8"))
    (io_delay,) = [o for o in doc["ops"] if o["name"] == "cpu.io_delay"]
    files = {i["function"]: (i["backend"], i["file"]) for i in io_delay["implementations"]}
    assert files["xen_nl"] == ("xen", "arch/x86/xen/new\nline.c")
    assert files["xen_ff"] == ("xen", "arch/x86/xen/\udcff.c")


def test_a_tree_path_with_a_newline_gives_a_one_line_error(tmp_path):
    odd = tmp_path / "a\nb"
    odd.mkdir()
    one_error(pvscan("scan", str(odd)), "a\\nb")


# -- ABI files, baselines and history documents --------------------------------------------------

TOY = (FIXTURES / "abi" / "toy-gen3.toml").read_text()


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace('hypercalls = ["msr"]', 'hypercalls = [["msr"]]', 1), "must be a list of strings"),
    (lambda t: t.replace("args = [32, 32]", "args = " + "[" * 500 + "]" * 500, 1), "nested too deep"),
    (lambda t: t.replace('clobbers = true\nsource = "toy"', 'clobbers = true\ngates = [1, {a = 1}]\nsource = "toy"', 1),
     "gates must be a list of strings"),
], ids=["hypercalls-of-lists", "args-500-deep", "gates-mistyped"])
def test_a_mistyped_abi_file_is_one_error(tmp_path, edit, words):
    abi = tmp_path / "abi.toml"
    abi.write_text(edit(TOY))
    assert abi.read_text() != TOY
    one_error(pvscan("check", str(GEN3), "--abi", str(abi)), words, str(abi))


@pytest.mark.parametrize("text", ['{"schema": "pvscan-baseline/1", "findings": ' + "[" * 100000 + "]" * 100000 + "}",
                                  '{"schema": "pvscan-baseline/1", "findings": [' + "9" * 5000 + "]}"],
                         ids=["nested-100000-deep", "number-of-5000-digits"])
def test_a_hostile_baseline_is_one_error(tmp_path, text):
    base = tmp_path / "base.json"
    base.write_text(text)
    one_error(pvscan("check", str(GEN3), "--abi", "xen-pv", "--baseline", str(base)), "not a pvscan baseline")


def test_a_history_document_holding_only_its_schema_is_one_error(tmp_path):
    doc = tmp_path / "h.json"
    doc.write_text('{"schema": "pvscan-history/1"}')
    one_error(pvscan("report", str(GEN3), "--history", str(doc), "-o", str(tmp_path / "r.html")), "revisions")
    assert not (tmp_path / "r.html").exists()


# -- a tree full of hostile files ---------------------------------------------------------------------

def test_a_tree_full_of_hostile_files_scans_with_warnings_the_right_result_and_no_change(tree, tmp_path):
    """Every kind of bad file at once: the scan finishes, warns, finds what the clean tree has, changes nothing."""
    import json

    clean = json.loads(pvscan("scan", str(GEN3), "--format", "json", "-j", "1").stdout)
    x86 = tree / "arch" / "x86"
    os.mkfifo(x86 / "kernel" / "fifo.c")
    (x86 / "kernel" / "loop").symlink_to(x86 / "kernel")                       # a directory symlink loop
    (x86 / "kernel" / "outside.c").symlink_to("/etc/hostname")                 # a file link out of the tree
    (x86 / "xen" / "binary.c").write_bytes(b"pv_ops\0\x01\x02" * 100)          # binary
    (x86 / "xen" / "huge.c").write_bytes(b"/* pv_ops */\n" + b" " * (9 * 1024 * 1024))   # over the limit
    (x86 / "xen" / "latin1.c").write_bytes(b"/* caf\xe9 */ struct pv_odd_ops { int x; };\n")   # not UTF-8
    with open(os.fsencode(x86 / "xen") + b"/\xfe.c", "wb") as f:               # a name that is not UTF-8
        f.write(b"int pv_ops_named;\n")
    (x86 / "xen" / "broken.c").write_text("struct paravirt_patch_template pv_ops = { .mmu = { .set_pte = (((\n")
    (x86 / "xen" / "nested.h").write_text("#ifdef A\n" * 3000 + "int pv_ops_deep;\n" + "#endif\n" * 3000)
    before = snapshot(tree)
    for env in ({}, {"PVSCAN_NO_RIPGREP": "1"}):
        proc = pvscan("scan", str(tree), "--format", "json", "-j", "1", env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert [o["name"] for o in doc["ops"]] == [o["name"] for o in clean["ops"]]
        skipped = {w["file"]: w["message"] for w in doc["warnings"]}
        assert "binary" in skipped["arch/x86/xen/binary.c"]
        assert "over the" in skipped["arch/x86/xen/huge.c"]
        assert "not UTF-8" in skipped["arch/x86/xen/latin1.c"]
    assert snapshot(tree) == before


def test_a_worker_killed_under_the_pool_is_one_error(monkeypatch):
    """What the OOM killer does to a worker: the run stops with one line, not a BrokenProcessPool traceback."""
    from pvscan import pipeline
    from pvscan.errors import PvscanError

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with pytest.raises(PvscanError, match="worker process was killed"):
        pipeline._map(_die, list(range(pipeline._POOL_THRESHOLD + 1)), jobs=2)


def _die(item):
    os.kill(os.getpid(), 9)


def test_headers_reached_through_a_symlink_out_of_the_tree_are_not_searched_for_wrappers(tree, tmp_path):
    """The scan guesses the wrappers from include/ and arch/*/include/ before its search; ripgrep
    follows the paths it is given, so an include directory that is a symlink out of the tree is
    left out, as the whole-tree search leaves it, and the scan is what it is without it."""
    from pvscan.source.directory import KernelTree
    from pvscan.source.search import header_dirs

    outside = tmp_path / "outside" / "include" / "asm"
    outside.mkdir(parents=True)
    (outside / "paravirt.h").write_text(
        "static inline void outside_wrapper(void)\n{\n\tPVOP_VCALL0(mmu.flush_tlb_user);\n}\n")
    before = pvscan("scan", str(tree), "--format", "json", "-j", "1", env={"PVSCAN_NO_CACHE": "1"}).stdout
    os.makedirs(tree / "arch" / "evil")
    os.symlink(tmp_path / "outside" / "include", tree / "arch" / "evil" / "include")
    assert "arch/evil/include" not in header_dirs(KernelTree(tree))
    assert "arch/x86/include" in header_dirs(KernelTree(tree))
    after = pvscan("scan", str(tree), "--format", "json", "-j", "1", env={"PVSCAN_NO_CACHE": "1"})
    assert after.stdout == before and "outside_wrapper" not in after.stdout + after.stderr


def test_a_repositorys_file_system_monitor_is_never_run(tmp_path):
    """core.fsmonitor in a repository's config names a program that git diff-tree and git
    status run in a repository with a work tree; pvscan's git command lines turn it off."""
    repo = tmp_path / "linux"
    marker = tmp_path / "monitor-ran"
    monitor = tmp_path / "monitor.sh"
    monitor.write_text(f"#!/bin/sh\ntouch {marker}\n")
    monitor.chmod(0o755)
    git = git_checkout(repo)
    (repo / TYPES).write_text((repo / TYPES).read_text() + "\n/* two */\n")
    git("commit", "-qam", "two")
    git("config", "core.fsmonitor", str(monitor))
    env = dict(os.environ, PVSCAN_NO_CACHE="1")
    for args in (["history", "--git", str(repo), "HEAD~1", "HEAD", "--no-progress"],
                 ["review", "--git", str(repo), "HEAD~1..HEAD"],
                 ["scan", str(repo)]):
        proc = subprocess.run([sys.executable, "-m", "pvscan", *args], capture_output=True, text=True, env=env)
        assert proc.returncode in (0, 1), proc.stderr
        assert not marker.exists(), args


def test_a_directory_inside_a_work_tree_as_the_repository_is_one_error(tmp_path):
    """git run there would search only below it and name files from there: history said
    'no paravirt ops table' of every revision."""
    repo = tmp_path / "linux"
    git = git_checkout(repo)
    git("commit", "-q", "--allow-empty", "-m", "two")
    inside = str(repo / "arch")
    one_error(pvscan("history", "--git", inside, "HEAD~1", "HEAD"), "inside a git work tree", "top")
    one_error(pvscan("review", "--git", inside, "HEAD~1..HEAD"), "inside a git work tree", "top")
    assert pvscan("history", "--git", str(repo), "HEAD~1", "HEAD", "--no-progress").returncode == 0


def test_a_hooks_git_variables_never_turn_pvscan_to_another_repository(tmp_path):
    """git exports GIT_DIR and GIT_INDEX_FILE to its hooks: pvscan run from a hook of another
    repository read that one (history and review --git said 'unknown revision'), and a
    checkout's rescan asked the other repository what changed, so an edit could go unseen."""
    repo = tmp_path / "linux"
    git = git_checkout(repo)
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"))
    git("commit", "-qam", "two")
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    hook = dict(os.environ, GIT_DIR=str(other / ".git"), GIT_WORK_TREE=str(other),
                GIT_INDEX_FILE=str(other / ".git" / "index"), PVSCAN_CACHE_DIR=str(tmp_path / "cache"))
    plain = dict(hook)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        del plain[name]

    def run(env, *args):
        return subprocess.run([sys.executable, "-m", "pvscan", *args], capture_output=True, text=True, env=env)

    for args in (["history", "--git", str(repo), "HEAD~1", "HEAD", "--no-progress", "--format", "json"],
                 ["review", "--git", str(repo), "HEAD~1..HEAD", "--format", "checkpatch"],
                 ["scan", str(repo), "--format", "json"]):
        assert run(hook, *args).stdout == run(plain, *args).stdout != "", args
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD + "\n\tvoid (*exit_mmap)(struct mm_struct *mm);"))
    assert "mmu.exit_mmap" in run(hook, "scan", str(repo), "--format", "json").stdout


def test_a_tree_is_read_through_symlinks_only_where_they_lead_inside_it(tree, tmp_path):
    # KernelTree.read resolves each directory once and opens the file itself without following
    # a link; a file or directory that is a symlink is read only when it leads inside the tree.
    from pvscan.source.directory import KernelTree
    from pvscan.source.files import SkippedFile

    x86 = tree / "arch" / "x86"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.h").write_text("struct paravirt_patch_template pv_ops;\n")
    (x86 / "inside.c").symlink_to("kernel/paravirt.c")
    (x86 / "indir").symlink_to("kernel")
    (x86 / "out.h").symlink_to(outside / "a.h")
    (x86 / "outdir").symlink_to(outside)
    source = KernelTree(tree)
    real = (x86 / "kernel" / "paravirt.c").read_bytes()
    assert source.read("arch/x86/inside.c") == real and source.read("arch/x86/indir/paravirt.c") == real
    for rel in ("arch/x86/out.h", "arch/x86/outdir/a.h"):
        with pytest.raises(SkippedFile, match="points outside the tree"):
            source.read(rel)
    with pytest.raises(SkippedFile, match="escapes the tree"):
        source.read("arch/x86/../../../outside/a.h")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this machine")
def test_a_full_standard_output_is_one_error_not_a_bug():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "pvscan", "scan", str(GEN3)], stdout=full,
                              stderr=subprocess.PIPE, text=True)
    one_error(proc, "standard output", "No space left on device")


def test_a_closed_standard_output_is_one_error_not_a_bug():
    proc = subprocess.run([sys.executable, "-m", "pvscan", "scan", str(GEN3)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1))
    one_error(proc, "standard output", "closed")


@pytest.mark.parametrize("what", ["abi", "history", "hunk"])
def test_an_integer_past_pythons_digit_bound_is_one_error(tmp_path, what):
    # Python refuses to convert integers of more than 4,300 digits; each input says so as bad input.
    huge = "9" * 5000
    if what == "abi":
        path = tmp_path / "a.toml"
        path.write_text(f'[abi]\nname = "x"\nword_bits = {huge}\n')
        proc = pvscan("check", str(GEN3), "--abi", str(path))
        one_error(proc, str(path), "4300 digits")
    elif what == "history":
        path = tmp_path / "h.json"
        path.write_text(f'{{"schema": "pvscan-history/1", "x": {huge}}}')
        proc = pvscan("report", str(GEN3), "--history", str(path), "-o", str(tmp_path / "r.html"))
        one_error(proc, str(path), "4300 digits")
        assert not (tmp_path / "r.html").exists()
    else:
        path = tmp_path / "p.diff"
        path.write_text(f"--- a/{TYPES}\n+++ b/{TYPES}\n@@ -{huge},1 +1,1 @@\n-a\n+b\n")
        proc = pvscan("review", "--tree", str(GEN3), str(path))
        one_error(proc, f"{path}:3", "malformed hunk header")


def test_pvscan_ripgrep_naming_something_else_is_one_error():
    # /bin/true answers every search with nothing: the tree would seem to have no ops table.
    true = shutil.which("true")
    proc = pvscan("scan", str(GEN3), env={"PVSCAN_RIPGREP": true})
    one_error(proc, f"PVSCAN_RIPGREP={true}", "not ripgrep")
    one_error(pvscan("scan", str(GEN3), env={"PVSCAN_RIPGREP": "/nonexistent/rg"}), "cannot run it")


def test_without_git_a_git_range_is_one_error_and_a_checkout_is_a_directory(tmp_path):
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    git("commit", "-q", "--allow-empty", "-m", "second")
    no_git = {"PATH": str(tmp_path / "empty-bin")}
    one_error(pvscan("review", "--git", str(repo), "HEAD~1..HEAD", env=no_git), str(repo), "git is not on PATH")
    one_error(pvscan("history", "--git", str(repo), "HEAD~1", "HEAD", env=no_git), "git is not on PATH")
    assert pvscan("scan", str(repo), env=no_git).returncode == 0


def test_an_output_that_is_one_of_the_inputs_is_refused(tmp_path):
    patch = tmp_path / "p.diff"
    patch.write_text(f"--- a/{TYPES}\n+++ b/{TYPES}\n@@ -1,1 +1,1 @@\n-a\n+b\n")
    before = patch.read_bytes()
    one_error(pvscan("review", "--tree", str(GEN3), str(patch), "-o", str(patch)), str(patch),
              "refusing to write over a file this run reads")
    assert patch.read_bytes() == before
    abi = tmp_path / "a.toml"
    abi.write_text((FIXTURES / "abi" / "toy-gen3.toml").read_text())
    one_error(pvscan("check", str(GEN3), "--abi", str(abi), "--write-baseline", str(abi)), "refusing to write over")


@pytest.mark.parametrize("variable", ["HOME", "XDG_CACHE_HOME", "PVSCAN_CACHE_DIR"])
def test_a_relative_cache_directory_writes_nothing_where_the_command_runs(tmp_path, variable):
    env = {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": "", "PVSCAN_CACHE_DIR": "", variable: "relative"}
    proc = pvscan("scan", str(GEN3), env=env, cwd=tmp_path)
    assert proc.returncode == 0
    assert not (tmp_path / "relative").exists()
    if variable == "XDG_CACHE_HOME":     # ignored, as the XDG specification says: HOME's is used
        assert (tmp_path / "home" / ".cache" / "pvscan").is_dir()
    else:
        assert "cache: no absolute cache directory" in proc.stderr


def test_a_users_git_config_and_attributes_change_no_answer(tmp_path):
    # color.ui=always colours git's output, and '*.h binary' makes git grep skip headers and git diff
    # say 'Binary files differ': pvscan asks git for plain text either way.
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD.replace("set_pmd", "set_pmd_renamed")))
    (repo / ".gitattributes").write_text("*.h binary\n")
    git("config", "color.ui", "always")
    git("add", "-A")
    git("commit", "-q", "-m", "rename set_pmd")
    proc = pvscan("review", "--git", str(repo), "HEAD~1..HEAD", "--fail-on", "never")
    assert "this patch changes the pv_ops interface: 1 op(s) renamed" in proc.stderr + proc.stdout
    assert "\x1b" not in proc.stdout


def test_a_tags_glob_is_never_an_option_and_annotated_tags_count(tmp_path):
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    for name in ("v1", "v2"):
        git("commit", "-q", "--allow-empty", "-m", name)
        git("tag", "-a", name, "-m", name)
    doc = pvscan("history", "--git", str(repo), "HEAD~2..HEAD", "--tags", "v*", "--format", "json")
    assert doc.returncode == 0, doc.stderr
    import json
    assert [r["label"] for r in json.loads(doc.stdout)["revisions"]] == ["HEAD~2", "v1", "v2"]
    # Without --tags, the range's commits that a tag names are labelled by it.
    plain = pvscan("history", "--git", str(repo), "HEAD~2..HEAD", "--format", "json")
    assert [r["label"] for r in json.loads(plain.stdout)["revisions"]] == ["HEAD~2", "v1", "v2"]
    one_error(pvscan("history", "--git", str(repo), "HEAD~2..HEAD", "--tags=--help"), "holds no revision tagged")
    one_error(pvscan("history", "--git", str(repo), "--", "--all"), "unknown revision '--all'")


@pytest.mark.kernel
def test_ctrl_c_during_history_with_workers_ends_with_130_and_one_line():
    # A terminal's Ctrl-C reaches the whole process group: the workers leave it to the parent,
    # which stops them and ends the run, with no traceback from any process.
    import signal
    import time

    from conftest import kernel_path

    trees = [str(kernel_path(v)) for v in ("6.1", "6.12", "7.2")]
    proc = subprocess.Popen([sys.executable, "-m", "pvscan", "history", *trees, "-j3", "--abi", "kvm"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PVSCAN_NO_CACHE": "1"})
    time.sleep(5)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the history finished before the interrupt")
    assert (proc.returncode, err.decode()) == (130, "pvscan: interrupted\n")
    time.sleep(1)
    assert _running_in_group(proc.pid) == []      # no worker (nor its ripgrep) left behind


def _running_in_group(pgid: int) -> list[int]:
    """The processes of a process group that still run (a zombie a container's init has not
    reaped yet is not running)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry))
    return out


def test_control_characters_from_the_tree_reach_no_terminal(tree):
    # An ESC in a file name would colour or move a terminal's cursor; a newline would start a
    # line of its own (a forged 'error:' line in CI). Every text output shows them escaped.
    name = "arch/x86/xen/e\x1b[31mvil\nx.c"
    (tree / name).write_text("void __init xen_evil(void) { pv_ops.cpu.io_delay = xen_evil; }\n")
    scan = pvscan("scan", str(tree), "--op", "cpu.io_delay")
    assert scan.returncode == 0, scan.stderr
    assert "\x1b" not in scan.stdout and "e\\x1b[31mvil\\nx.c" in scan.stdout
    check = pvscan("check", str(tree), "--abi", str(FIXTURES / "abi" / "toy-gen3.toml"), "--fail-on", "never")
    assert "\x1b" not in check.stdout + check.stderr


def test_a_header_of_100000_pvop_wrappers_is_read_in_bounded_time(tree):
    # Each wrapper's definition and each use's row were found by a scan of the whole file: quadratic
    # (past 5 minutes here). The timeout only guards against a hang; the run takes seconds.
    lines = [f"static inline void f{i}(void) {{ PVOP_VCALL0(cpu.io_delay); }}" for i in range(100000)]
    (tree / "arch/x86/include/asm/paravirt_many.h").write_text("\n".join(lines) + "\n")
    proc = pvscan("scan", str(tree), "--no-callers", "--format", "json", env={"PVSCAN_NO_CACHE": "1"}, timeout=240)
    assert proc.returncode == 0, proc.stderr
    import json
    (io_delay,) = [o for o in json.loads(proc.stdout)["ops"] if o["name"] == "cpu.io_delay"]
    assert len(io_delay["call_sites"]) >= 100000


@pytest.mark.parametrize("where", ["pvscan.cli", "pvscan.commands.scan"])
def test_ctrl_c_while_importing_is_130_and_one_line(where):
    # SIGINT while Python imports the command line or a command: no traceback.
    interrupter = ("import sys, importlib.abc\n"
                   "class Stop(importlib.abc.MetaPathFinder):\n"
                   "    def find_spec(self, name, path=None, target=None):\n"
                   f"        if name == {where!r}:\n"
                   "            raise KeyboardInterrupt\n"
                   "sys.meta_path.insert(0, Stop())\n"
                   "from pvscan.entry import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", interrupter, "scan", GEN3], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert proc.returncode == 130 and proc.stderr == "pvscan: interrupted\n", proc.stderr


def test_a_revision_whose_objects_are_missing_is_an_error_naming_it(tmp_path):
    # git grep reads past a blob it cannot read and exits 0; the revision's ops must not vanish.
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    types = repo / "arch/x86/include/asm/paravirt_types.h"
    for comment in ("/* two */", "/* three */"):
        types.write_text(types.read_text() + comment + "\n")
        git("commit", "-qam", comment)
    blob = git("rev-parse", "HEAD~1:arch/x86/include/asm/paravirt_types.h").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    for argv in (["HEAD~2..HEAD"], ["HEAD~2", "HEAD~1", "HEAD"]):
        one_error(pvscan("history", "--git", str(repo), *argv), "cannot read object", blob, "corrupt")


def test_a_sparse_file_of_20_gb_is_skipped_unread_with_a_warning(tree):
    # ripgrep reads a file it is not told to skip: 24 s for 20 GB of holes here, where
    # --max-filesize skips it at once. Its head names pv_ops: the warning says what was skipped.
    sparse = tree / "arch" / "x86" / "xen" / "sparse.h"
    with open(sparse, "wb") as f:
        f.write(b"/* pv_ops */\n")
        f.truncate(20 * 1024 ** 3)
    for env in ({}, {"PVSCAN_NO_RIPGREP": "1"}):
        proc = pvscan("scan", str(tree), "--format", "json", "-j", "1", env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        warned = {w["file"]: w["message"] for w in __import__("json").loads(proc.stdout)["warnings"]}
        assert "over the" in warned["arch/x86/xen/sparse.h"], warned


def test_a_file_ripgrep_cannot_read_is_a_warning_naming_it():
    import subprocess as sp

    from pvscan.source.search import _unsearched

    warnings = []
    _unsearched(sp.CompletedProcess([], 2, b"", b"rg: ./arch/x86/xen/secret.c: Permission denied (os error 13)\n"),
                warnings)
    assert [(w.path, w.message) for w in warnings] == [
        ("arch/x86/xen/secret.c", "not searched: Permission denied (os error 13)")]


def test_hunk_placement_by_the_line_index_finds_what_trying_every_offset_finds():
    # The index only skips places that cannot match: the answer of trying every place of the
    # file, nearest the hunk's line first and, at the same distance, the later one (GNU patch).
    import random

    from pvscan.review.apply import _find as find_indexed
    from pvscan.review.apply import line_index

    def _find(lines, want, start, floor):
        fits = [at for at in range(floor, len(lines) - len(want) + 1) if lines[at:at + len(want)] == want]
        return min(fits, key=lambda at: (abs(at - start), at < start), default=None)

    def find(lines, want, start, floor, index):
        return find_indexed(lines, want, start, floor, index)

    rng = random.Random(7)
    for _ in range(3000):
        lines = [rng.choice("abcd}") for _ in range(rng.randint(0, 40))]
        at = rng.randint(0, max(len(lines) - 1, 0))
        want = lines[at:at + rng.randint(1, 4)] if lines and rng.random() < 0.7 else \
            [rng.choice("abcde") for _ in range(rng.randint(1, 3))]
        start, floor = rng.randint(0, len(lines) + 2), rng.randint(0, 5)
        assert find(lines, want, start, floor, line_index(lines)) == _find(lines, want, start, floor), \
            (lines, want, start, floor)


def test_two_thousand_failing_hunks_against_a_big_file_are_reviewed(tmp_path):
    # Each hunk whose lines are nowhere was searched for at every offset of the file: minutes.
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree, symlinks=True)
    big = tree / "arch" / "x86" / "kernel" / "big.c"
    big.write_text("".join(f"int v{i} = {i};\n" for i in range(200_000)))
    hunks = "".join(f"@@ -{1 + i * 90},3 +{1 + i * 90},3 @@\n x{i}\n-y{i}\n+z{i}\n z{i}\n" for i in range(2000))
    patch = tmp_path / "p.diff"
    patch.write_text("--- a/arch/x86/kernel/big.c\n+++ b/arch/x86/kernel/big.c\n" + hunks)
    proc = pvscan("review", "--tree", str(tree), "--format", "checkpatch", str(patch), timeout=120)
    assert proc.returncode == 0 and proc.stdout.count("PV120") == 2000, proc.stderr[-300:]


def test_twenty_thousand_calling_files_scan_in_linear_time(tree):
    # Each file's cache key joined every wrapper name again: quadratic in files x names.
    many = tree / "drivers" / "many"
    many.mkdir(parents=True)
    for i in range(20_000):
        (many / f"f{i}.c").write_text(f"void f{i}(void) {{ arch_local_irq_disable(); }}\n")
    proc = pvscan("scan", str(tree), "--format", "json", "--callers", timeout=300)
    assert proc.returncode == 0, proc.stderr[-300:]
    import json

    wrappers = {w["name"]: w["callers"] for o in json.loads(proc.stdout)["ops"] for w in o["wrappers"]}
    assert wrappers["arch_local_irq_disable"] >= 20_000


def test_a_git_config_that_includes_a_fifo_is_an_error_not_a_hang(tmp_path):
    # git opens the FIFO and waits for a writer that never comes: the first look at the
    # repository has a short bound, here shortened further.
    repo = tmp_path / "repo"
    git_checkout(repo)
    fifo = tmp_path / "include.fifo"
    os.mkfifo(fifo)
    config = tmp_path / "gitconfig"
    config.write_text(f"[include]\n\tpath = {fifo}\n")
    proc = pvscan("history", "--git", str(repo), "HEAD", "HEAD", timeout=60,
                  env={"GIT_CONFIG_GLOBAL": str(config), "PVSCAN_EXTERNAL_TIMEOUT": "3"})
    one_error(proc, "did not finish within 3 s")


def test_a_closed_standard_input_is_one_error_not_a_bug():
    proc = subprocess.run([sys.executable, "-m", "pvscan", "review", "--tree", GEN3, "-"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, pass_fds=(),
                          preexec_fn=lambda: os.close(0))
    one_error(proc, "standard input is closed")


def test_memory_follows_the_patch_not_three_copies_of_it(tmp_path):
    # A 200 MB patch took 2.47 GB: its bytes, its text and its lines together, and a set of every
    # added line of files that name no op. Read line by line now, such files keep no line sets.
    patch = tmp_path / "big.diff"
    line = "+int filler_variable_%06d = 12345678; /* padding to fifty */\n"
    with open(patch, "w") as out:
        for f in range(600):
            out.write(f"--- /dev/null\n+++ b/drivers/gen/f{f}.c\n@@ -0,0 +1,1700 @@\n")
            out.writelines(line % i for i in range(1700))
    size = patch.stat().st_size
    # Measured in a process of its own, whose only child is this review (ru_maxrss is the
    # largest of the children a process waited for).
    measure = ("import resource, subprocess, sys\n"
               "p = subprocess.run([sys.executable, '-m', 'pvscan', 'review', '--tree', sys.argv[1], '--format',"
               " 'checkpatch', sys.argv[2]], stdout=subprocess.DEVNULL)\n"
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    proc = subprocess.run([sys.executable, "-c", measure, GEN3, str(patch)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    code, peak_kb = proc.stdout.split()
    assert code == "0", proc.stderr[-300:]
    assert int(peak_kb) * 1024 < 3 * size + 150 * 1024 * 1024, (peak_kb, size)


# -- the causes of issue 33, one table: whatever the input, exit 0, 1 or 2, one line when refused,
# no traceback, no raw control character in the output, the tree unchanged, within a bound ----------

def _case_nul_in_a_path(tmp, tree):
    patch = tmp / "p.diff"
    patch.write_bytes(b"--- a/arch/x\0y.h\n+++ b/arch/x\0y.h\n@@ -1 +1 @@\n-a\n+b\n")
    return ["review", "--tree", str(tree), str(patch)], {}, {2}


def _case_non_utf8_path_in_sarif(tmp, tree, fmt="sarif"):
    patch = tmp / "p.diff"
    patch.write_bytes(b"--- /dev/null\n+++ b/arch/x86/\xff.h\n@@ -0,0 +1 @@\n+int pv_ops_x;\n")
    return ["review", "--tree", str(tree), "--format", fmt, str(patch)], {}, {0, 1}


def _case_non_utf8_path_in_gitlab(tmp, tree):
    return _case_non_utf8_path_in_sarif(tmp, tree, "gitlab")


def _case_a_superscript_cache_size(tmp, tree):
    return ["scan", str(tree)], {"PVSCAN_CACHE_MAX_MB": "²", "PVSCAN_CACHE_MAX_DAYS": "٣"}, {0}


def _case_ripgrep_that_is_not(tmp, tree):
    return ["scan", str(tree)], {"PVSCAN_RIPGREP": "/bin/true"}, {2}


def _case_a_kconfig_source_chain_1000_deep(tmp, tree):
    (tree / "Kconfig").write_text('source "k/0"\n')
    (tree / "k").mkdir()
    for i in range(1000):
        (tree / "k" / str(i)).write_text(f'source "k/{i + 1}"\n' if i < 999 else "config X\n\tbool\n")
    patch = tmp / "p.diff"
    patch.write_text(f"--- a/{TYPES}\n+++ b/{TYPES}\n@@ -69,1 +69,1 @@\n-{SET_PMD}\n+{SET_PMD} /**/\n")
    return ["review", "--tree", str(tree), str(patch)], {}, {0, 1}


def _case_an_escape_in_a_file_name(tmp, tree):
    (tree / "arch" / "x86" / "xen" / "e\x1b[31mvil\n.c").write_text("int pv_ops_e;\n")
    return ["scan", str(tree)], {}, {0, 1}


def _case_a_tags_value_that_is_an_option(tmp, tree):
    git_checkout(tmp / "repo")
    return ["history", "--git", str(tmp / "repo"), "HEAD..HEAD", "--tags=--output=/tmp/x"], {}, {2}


@pytest.mark.parametrize("case", [
    _case_nul_in_a_path, _case_non_utf8_path_in_sarif, _case_non_utf8_path_in_gitlab, _case_a_superscript_cache_size,
    _case_ripgrep_that_is_not, _case_a_kconfig_source_chain_1000_deep, _case_an_escape_in_a_file_name,
    _case_a_tags_value_that_is_an_option], ids=lambda f: f.__name__.removeprefix("_case_"))
def test_a_hostile_case_ends_in_an_answer_or_one_line(tmp_path, tree, case):
    argv, env, codes = case(tmp_path, tree)
    before = snapshot(tree)
    proc = pvscan(*argv, env=env, timeout=120)           # a hang fails here, not the suite
    assert proc.returncode in codes, (proc.returncode, proc.stderr[-500:])
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    raw_controls = {chr(c) for c in range(32) if chr(c) not in "\n\t"} | {"\x7f"}
    assert not raw_controls & set(proc.stdout + proc.stderr), repr(proc.stdout[-300:] + proc.stderr[-300:])
    assert snapshot(tree) == before


def test_many_tags_of_one_commit_are_one_revision(tmp_path):
    # 5,000 tags of one commit were 5,000 scans of it (6 s here, and a history of 5,001 revisions).
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    git("commit", "-q", "--allow-empty", "-m", "next")
    head = git("rev-parse", "HEAD").strip()
    subprocess.run(["git", "-C", str(repo), "update-ref", "--stdin"], check=True, text=True,
                   input="".join(f"create refs/tags/t{i} {head}\n" for i in range(1, 501)))
    doc = pvscan("history", "--git", str(repo), "HEAD~1..HEAD", "--tags", "t*", "--format", "json")
    import json

    assert doc.returncode == 0 and [r["label"] for r in json.loads(doc.stdout)["revisions"]] == ["HEAD~1", "t1"]


def test_standard_input_without_a_newline_is_read_no_further_than_the_limit(monkeypatch):
    """A pipe of newline-free bytes was one line, read whole before its length was seen."""
    import io
    import types

    from pvscan.errors import PvscanError
    from pvscan.source.files import read_input_lines

    asked = []

    class Stdin(io.BytesIO):
        def readline(self, size=-1):
            asked.append(size)
            return super().readline(size)

    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=Stdin(b"x" * 5000)))
    with pytest.raises(PvscanError, match="over 1000 bytes"):
        read_input_lines(None, "the patch", 1000)
    assert asked and 0 < max(asked) <= 1001
