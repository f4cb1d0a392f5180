"""pvscan history: one identity per op across generations, ABIs over time, on local cores or Dask."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import fixture_tree, pvscan

GENS = [("g1", "gen1-single"), ("g2", "gen2-split"), ("g3", "gen3-unified")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """Our three fixture trees committed one after another, tagged g1, g2, g3."""
    repo = tmp_path_factory.mktemp("history") / "linux.git"
    env = dict(os.environ, GIT_DIR=str(repo), GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org")
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    for tag, name in GENS:
        tree = str(fixture_tree(name))
        subprocess.run(["git", "--work-tree", tree, "add", "-A", "-f", "."], env=env, check=True)
        subprocess.run(["git", "--work-tree", tree, "commit", "-qm", name], env=env, check=True)
        subprocess.run(["git", "tag", tag], env=env, check=True)
    return str(repo)


def history_json(*args):
    proc = pvscan("history", *args, "--format", "json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


def lineage(doc, identity):
    (op,) = [o for o in doc["ops"] if o["identity"] == identity]
    return op


def test_one_identity_from_paravirt_ops_to_pv_ops(repo):
    doc, _ = history_json("--git", repo, "g1", "g2", "g3")
    set_pte = lineage(doc, "x86:paravirt_ops.set_pte")
    assert [(n["revision"], n["name"], n["matched_by"]) for n in set_pte["names"]] == [
        ("g1", "paravirt_ops.set_pte", None),
        ("g2", "pv_mmu_ops.set_pte", "member"),       # same member, same signature, another table
        ("g3", "mmu.set_pte", "generation"),          # pv_mmu_ops.x is mmu.x
    ]
    assert (set_pte["first"], set_pte["last"]) == ("g1", "g3")


def test_changes_are_dated_and_located(repo):
    doc, _ = history_json("--git", repo, "g1", "g2", "g3")
    save_fl = lineage(doc, "x86:paravirt_ops.save_fl")
    conv = [e for e in save_fl["events"] if e["kind"] == "convention"]
    # gen1 declares 'unsigned long (*save_fl)(void)', gen2 'struct paravirt_callee_save save_fl'.
    assert conv == [{"revision": "g2", "kind": "convention", "detail": "plain -> callee_save",
                     "file": "arch/x86/include/asm/paravirt_types.h", "line": 43}]
    clts = lineage(doc, "x86:paravirt_ops.clts")
    assert [e["kind"] for e in clts["events"]] == ["added", "removed"] and clts["last"] == "g1"


def test_arches_stay_apart(repo):
    doc, _ = history_json("--git", repo, "g1", "g2", "g3")
    assert lineage(doc, "ia64:pv_cpu_ops.fc")["first"] == "g2"
    assert not [o for o in doc["ops"] if o["identity"].startswith("i386:")]   # i386 is x86's past


def test_range_with_tags_and_trees_give_the_same_ops(repo):
    by_range, _ = history_json("--git", repo, "g1..g3", "--tags", "g*")
    assert [r["label"] for r in by_range["revisions"]] == ["g1", "g2", "g3"]
    trees, _ = history_json(*[str(fixture_tree(n)) for _, n in GENS])
    assert [o["identity"] for o in trees["ops"]] == [o["identity"] for o in by_range["ops"]]


def test_abi_pairs_name_what_the_abi_lacked(repo):
    doc, _ = history_json("--git", repo, "g2", "g3", "--abi", "xen-pv")
    (pair,) = doc["abis"]
    assert (pair["from"], pair["to"]) == ("g2", "g3")
    # gen3 adds cpu.write_msr_safe; xen-pv maps it, so only ops it does not map count.
    lacking = {n["op"] for n in pair["needing"]}
    assert "x86:cpu.write_msr_safe" not in lacking
    assert all(n["code"] in ("PV001", "PV002", "PV003", "PV004") for n in pair["needing"])


def test_csv_has_one_row_per_op_per_revision(repo):
    doc, _ = history_json("--git", repo, "g1", "g2", "g3")
    rows = pvscan("history", "--git", repo, "g1", "g2", "g3", "--format", "csv").stdout.splitlines()
    assert rows[0].startswith("revision,version,identity,arch,name")
    assert len(rows) - 1 == sum(len(o["names"]) for o in doc["ops"])


def test_dask_local_cluster_gives_byte_identical_output(repo):
    serial = pvscan("history", "--git", repo, "g1", "g2", "g3", "--abi", "vmi", "-j", "1", "--format", "json").stdout
    # The cluster lives in a process of its own: distributed leaves threads behind in the process
    # that imports it, and every later test that forks a worker pool here would fork with them.
    cluster = subprocess.Popen(
        [sys.executable, "-c",
         "from distributed import LocalCluster\n"
         "c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)\n"
         "print(c.scheduler_address, flush=True)\ninput()\nc.close()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = cluster.stdout.readline().strip()
        assert address, "the LocalCluster did not start"
        on_dask = pvscan("history", "--git", repo, "g1", "g2", "g3", "--abi", "vmi", "--format", "json",
                         "--scheduler", address)
        assert on_dask.returncode == 0, on_dask.stderr
        by_env = pvscan("history", "--git", repo, "g1", "g2", "g3", "--abi", "vmi", "--format", "json",
                        env={"DASK_SCHEDULER_ADDRESS": address})
    finally:
        try:
            cluster.communicate("\n", timeout=60)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.communicate()
    assert on_dask.stdout == serial
    assert by_env.stdout == serial


def test_progress_on_a_terminal_only(repo, tmp_path):
    # The output goes to a file of ours: '-o /dev/null' is refused (as root it once replaced the node).
    cmd = f"{sys.executable} -m pvscan history --git {repo} g1 g2 g3 --format csv -o {tmp_path / 'h.csv'}"
    tty = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True)
    assert "3/3 revisions" in tty.stdout
    piped = pvscan("history", "--git", repo, "g1", "g2", "g3", "--format", "csv")
    assert "revisions" not in piped.stderr


def test_progress_tells_of_each_search_of_the_objects(repo, tmp_path):
    """A revision's search takes seconds on a kernel (6.1's whole tree, 6.12's 37,366 changed
    files): the line says which search runs before any revision is done."""
    env = dict(os.environ, PVSCAN_NO_CACHE="1")
    proc = subprocess.run([sys.executable, "-m", "pvscan", "history", "--git", repo, "g1", "g2", "g3",
                           "--format", "csv", "--progress"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr.splitlines()        # the line's \r, read as text
    assert [s.strip() for s in said if "searching" in s] == [
        "pvscan: history: searching g1 (revision 1/3)",
        f"pvscan: history: searching the {changed(repo, 'g1', 'g2')} files changed from g1 to g2 (revision 2/3)",
        f"pvscan: history: searching the {changed(repo, 'g2', 'g3')} files changed from g2 to g3 (revision 3/3)"]


def changed(repo, a, b) -> int:
    """The .c/.h files git says differ, outside the directories no search reads (tools/ ...)."""
    from pvscan.source.files import EXCLUDED_DIRS

    excluded = [f":(exclude){d}/" for d in EXCLUDED_DIRS]
    names = subprocess.run(["git", "-C", repo, "diff", "--name-only", "--no-renames", a, b, "--", "*.c", "*.h",
                            *excluded], capture_output=True, text=True, check=True).stdout.split()
    return len(names)


def test_bad_revisions(repo, tmp_path):
    for args, message in [(["--git", repo, "g1", "nosuch"], "unknown revision 'nosuch'"),
                          (["--git", repo, "g2..g2"], "holds no revision"),
                          (["--git", str(tmp_path), "g1"], "not a git repository")]:
        proc = pvscan("history", *args)
        assert proc.returncode == 2, args
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_revision_without_ops_table_is_a_warning(repo, tmp_path):
    empty = tmp_path / "old"
    (empty / "arch").mkdir(parents=True)
    (empty / "Makefile").write_text("VERSION = 2\nPATCHLEVEL = 6\nSUBLEVEL = 19\n")
    proc = pvscan("history", str(empty), str(fixture_tree("gen3-unified")), "--format", "json")
    assert proc.returncode == 0
    assert "no paravirt ops table in this revision" in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["revisions"][0]["warning"] == "no paravirt ops table in this revision"


@pytest.mark.kernel
def test_6_1_to_6_12_history():
    """The Debian trees committed as v6.1 then v6.12 (scripts/make-history-repo).

    Read in both paravirt_types.h: 6.12 declares enter_mmap (line 152) where
    6.1 declared activate_mm (181) and dup_mmap (183). The xen-pv ABI was
    written from 6.12 and maps enter_mmap; vmi does not.
    """
    repo = _history_repository()
    doc, _ = history_json("--git", repo, "v6.1", "v6.12", "--abi", "xen-pv", "--abi", "vmi")
    assert [r["label"] for r in doc["revisions"]] == ["v6.1", "v6.12"]
    assert [r["version"].split(".")[:2] for r in doc["revisions"]] == [["6", "1"], ["6", "12"]]
    enter = lineage(doc, "x86:mmu.enter_mmap")
    assert enter["first"] == "v6.12" and enter["events"][0]["line"] == 152
    for name, line in (("activate_mm", 181), ("dup_mmap", 183)):
        op = lineage(doc, f"x86:mmu.{name}")
        assert op["last"] == "v6.1"
        assert op["events"][-1] == {"revision": "v6.12", "kind": "removed", "detail": f"mmu.{name}",
                                    "file": "arch/x86/include/asm/paravirt_types.h", "line": line}
    pairs = {p["abi"]: p for p in doc["abis"]}
    assert pairs["xen-pv"]["needing"] == []
    # Read from each revision's Kconfig (copied out of the objects): 6.12's file-wide
    # CONFIG_PARAVIRT changes no guard; irq.safe_halt and irq.halt leave CONFIG_PARAVIRT_XXL
    # (6.12's paravirt_types.h:126-127). With no VMI backend left to witness, enter_mmap,
    # which vmi.toml does not map, is unknown; halt, which it declares unsupported (vmi_32.c:
    # 'halt has no VMI equivalent'), needs the ABI.
    vmi = {v["op"]: v["verdict"] for v in pairs["vmi"]["verdicts"]}
    assert vmi == {"x86:mmu.enter_mmap": "unknown", "x86:mmu.activate_mm": "absorbed",
                   "x86:mmu.dup_mmap": "absorbed", "x86:irq.halt": "needs-abi", "x86:irq.safe_halt": "absorbed"}
    assert pairs["vmi"]["verdict_counts"] == {"absorbed": 3, "native": 0, "needs-abi": 1, "unknown": 1,
                                              "moved": 0}
    assert [n["op"] for n in pairs["vmi"]["needing"]] == ["x86:irq.halt"]


def test_history_never_writes_into_a_tree_it_reads(tmp_path):
    import shutil

    tree = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen3-unified"), tree)
    proc = pvscan("history", str(fixture_tree("gen2-split")), str(tree), "-o", str(tree / "h.json"))
    assert proc.returncode == 2 and "refusing to write into the kernel tree" in proc.stderr
    assert not (tree / "h.json").exists()


def test_verdicts_take_the_revisions_backend_as_witness(repo, tmp_path):
    # gen2 has arch/x86/xen; an ABI for backend xen that maps nothing: each op xen fills in g2
    # needs it, each op it leaves alone is native, and a removed op asks nothing (absorbed).
    abi = tmp_path / "bare.toml"
    abi.write_text('[abi]\nname = "bare"\nversion = "1"\narch = "x86"\ntarget = "x86_64"\nword_bits = 64\n'
                   'register_args = 5\nbackend = "xen"\ndescription = "maps nothing"\nsources = ["test"]\n')
    doc, _ = history_json("--git", repo, "g1", "g2", "--abi", str(abi))
    (pair,) = doc["abis"]
    verdicts = {v["op"]: v for v in pair["verdicts"]}
    assert verdicts["x86:paravirt_ops.clts"]["verdict"] == "absorbed"          # gone in g2
    native = [v for v in pair["verdicts"] if v["verdict"] == "native"]
    needs = [v for v in pair["verdicts"] if v["verdict"] == "needs-abi"]
    assert native and needs and not [v for v in pair["verdicts"] if v["verdict"] == "unknown"]
    assert all("backend xen implements it" in v["evidence"] for v in needs)
    assert sum(pair["verdict_counts"].values()) == pair["interface_changes"] == len(pair["verdicts"])
    # Renames are not changes for an ABI: no verdict is for a rename alone. A move (the
    # 2.6.23 split: paravirt_ops.x -> pv_cpu_ops.x) is one, 'moved' unless the ABI cannot carry it.
    assert all(set(v["change"].split()) <= {"added", "removed", "signature", "convention", "guard", "moved"}
               for v in pair["verdicts"])
    assert all(v["verdict"] in ("moved", "needs-abi") for v in pair["verdicts"] if "moved" in v["change"].split())


def test_the_fixed_strings_git_grep_looks_for_cover_every_candidate_name():
    # naming.LOOSE_FIXED must find every file CANDIDATE_PATTERN would: each kind of name has one.
    from pvscan.naming import CANDIDATE_RE, LOOSE_FIXED
    names = [b"paravirt_ops", b"paravirt_patch_template", b"pv_ops", b"pv_mmu_ops", b"pv_info",
             b"pv_lock_ops", b"PVOP_VCALL1", b"PVOP_ALT_CALLEE0", b"paravirt_callee_save"]
    for name in names:
        assert CANDIDATE_RE.search(name)
        assert any(fixed.encode() in name for fixed in LOOSE_FIXED), name


def test_consecutive_revisions_cost_what_changed_between_them(repo, monkeypatch):
    # g1 -> g2 -> g3: each step adds, changes and deletes files; the lists made from the one
    # before and git diff-tree equal a full search of each revision.
    from pvscan.history.run import RevisionSpec, prime_candidates
    from pvscan.source.git import GitTree

    monkeypatch.setenv("PVSCAN_NO_CACHE", "1")
    specs = [RevisionSpec(tag, "git", repo, tag) for tag, _ in GENS]
    primed = prime_candidates(specs)
    assert all(p.candidates is not None for p in primed)
    for spec in primed:
        tree = GitTree(repo, spec.rev)
        try:
            assert list(spec.candidates) == tree.candidates([])
        finally:
            tree.close()
    g2, g3 = GitTree(repo, "g2"), GitTree(repo, "g3")
    statuses = {status for status, _path, _mode, _oid in g3.changed_sources(g2.commit)}
    g2.close(), g3.close()
    assert {"A", "D"} <= statuses


def test_a_step_is_searched_in_its_changed_blobs_and_nothing_is_written_into_the_repository(tmp_path, monkeypatch):
    """The files a step changes are searched by 'git grep --cached' over a temporary index of
    their blobs: the lists equal full searches, whatever the repository's config says of
    split indexes and file system monitors, and the repository is left as it was."""
    import shutil

    from pvscan.history.run import RevisionSpec, prime_candidates
    from pvscan.source.git import GitTree

    monkeypatch.setenv("PVSCAN_NO_CACHE", "1")
    work = tmp_path / "linux"
    marker = tmp_path / "fsmonitor-ran"
    git = ["git", "-C", str(work), "-c", "user.email=t@example.org", "-c", "user.name=T"]
    for n, (tag, name) in enumerate(GENS):
        if work.exists():
            shutil.rmtree(work / "arch"), shutil.rmtree(work / "include", ignore_errors=True)
        shutil.copytree(fixture_tree(name), work, dirs_exist_ok=True)
        if n == 0:
            subprocess.run(["git", "init", "-q", str(work)], check=True)
            monitor = tmp_path / "monitor.sh"
            monitor.write_text(f"#!/bin/sh\ntouch {marker}\n")
            monitor.chmod(0o755)
            subprocess.run(git + ["config", "core.splitIndex", "true"], check=True)
            subprocess.run(git + ["config", "core.fsmonitor", str(monitor)], check=True)
        subprocess.run(git + ["add", "-A", "-f", "."], check=True)
        subprocess.run(git + ["commit", "-qm", name], check=True)
        subprocess.run(git + ["tag", tag], check=True)
    marker.unlink(missing_ok=True)
    before = sorted((p.relative_to(work), p.stat().st_mtime_ns) for p in (work / ".git").rglob("*"))
    primed = prime_candidates([RevisionSpec(tag, "git", str(work), tag) for tag, _ in GENS])
    for spec in primed:
        tree = GitTree(str(work), spec.rev)
        try:
            assert spec.candidates is not None and list(spec.candidates) == tree.candidates([])
        finally:
            tree.close()
    assert sorted((p.relative_to(work), p.stat().st_mtime_ns) for p in (work / ".git").rglob("*")) == before
    assert not marker.exists()


def test_a_revision_says_whether_it_has_a_file_without_listing_them_all(repo):
    """Kconfig asks a revision whether arch/x86/Kconfig is there (i386 before 2.6.24): one
    'git ls-tree' of that path answers, files only, where listing the 80,000 paths of a 6.12
    revision took 0.1 s more."""
    from pvscan.source.git import GitTree

    g1, g3 = GitTree(str(repo), "g1"), GitTree(str(repo), "g3")
    assert g1.has_file("arch/i386/kernel/paravirt.c") and not g3.has_file("arch/i386/kernel/paravirt.c")
    assert g3.has_file("arch/x86/kernel/paravirt.c")
    assert not g3.has_file("arch/x86/kernel")                  # a directory is no file
    assert not g3.has_file("arch/x86/kernel/*.c")              # a path, never a pattern


def test_a_revisions_kconfig_files_read_by_blob_id_are_what_reading_each_gives(tmp_path, monkeypatch):
    """The Kconfig files read out of a revision for kconfiglib come from one ls-tree and
    two cat-file runs by blob id (0.9 s -> 0.3 s on 6.12), one blob held at a time: the same
    bytes as reading each file by its path, the same refusals (binary, over the size limit),
    and none at all past a limit on their sum."""
    from pvscan.source import git as gitsource
    from pvscan.source.files import SkippedFile

    work = tmp_path / "w"
    files = {"Makefile": b"VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n",
             "Kconfig": b'source "arch/$(SRCARCH)/Kconfig"\n',
             "arch/x86/Kconfig": b"config X86\n\tdef_bool y\n",
             "arch/x86/Kconfig.cpu": b"config M686\n\tbool\n",
             "drivers/Kconfig.binary": b"config A\n\0\n",
             "drivers/Kconfig.big": b"# " + b"x" * 200 + b"\n",
             "Kconfigs/readme.txt": b"not a Kconfig file: only the file name counts\n",
             "scripts/Kconfig.include": b"cc-option = y\n",
             "odd dir/Kconfig": b"config ODD\n\tbool\n"}
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "k"]):
        subprocess.run(["git", "-C", str(work), *args], env=env, check=True)
    monkeypatch.setattr(gitsource, "MAX_FILE_BYTES", 100)
    tree = gitsource.GitTree(str(work), "HEAD")
    try:
        blobs = dict(tree.kconfig_blobs())
        assert sorted(blobs) == ["Kconfig", "Makefile", "arch/x86/Kconfig", "arch/x86/Kconfig.cpu",
                                 "odd dir/Kconfig", "scripts/Kconfig.include"]
        for rel in blobs:
            assert blobs[rel] == tree.read(rel) == files[rel]
        for rel in ("drivers/Kconfig.binary", "drivers/Kconfig.big"):
            with pytest.raises(SkippedFile):
                tree.read(rel)
        # Together past MAX_KCONFIG_BYTES: nothing is copied, and guards are compared as text.
        from pvscan.kconfig import LazyGuardLogic

        monkeypatch.setattr(gitsource, "MAX_KCONFIG_BYTES", 100)
        with pytest.raises(SkippedFile, match="Kconfig files come to"):
            dict(tree.kconfig_blobs())
        monkeypatch.setenv("PVSCAN_NO_CACHE", "1")
        guards = LazyGuardLogic(tree)
        assert "could not be read (its Kconfig files come to" in guards.for_arch("x86").problem
        assert guards._files is None
    finally:
        tree.close()


def test_a_revision_opened_again_asks_git_only_what_a_name_may_change(tmp_path, monkeypatch):
    """History opens each revision three times (candidates, scan, Kconfig), pinned to its commit
    first: the repository, a full commit id and a commit's version are asked of git once a
    run. A name is asked each time: a branch's tip can move while a run reads it."""
    from pvscan.history.revisions import revisions
    from pvscan.run import Run
    from pvscan.source import git as gitsource

    work = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen3-unified"), work)
    git = ["git", "-C", str(work), "-c", "user.email=t@example.org", "-c", "user.name=T"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    run = Run()
    first = gitsource.GitTree(str(work), "main", run)
    first.close()
    assert revisions(str(work), ["main"], None, run) == [("main", first.commit)]
    runs = []
    real_run, real_popen = subprocess.run, subprocess.Popen
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: runs.append(a[0]) or real_run(*a, **k))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: runs.append(a[0]) or real_popen(*a, **k))
    again = gitsource.GitTree(str(work), first.commit, run)
    again.close()
    assert runs == [], runs
    assert (again.commit, again.version) == (first.commit, first.version)
    monkeypatch.undo()
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "two"], check=True)
    moved = gitsource.GitTree(str(work), "main", run)
    moved.close()
    assert moved.commit != first.commit
    # Another run asks git again: nothing of the first is left for it.
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: runs.append(a[0]) or real_popen(*a, **k))
    gitsource.GitTree(str(work), first.commit, Run()).close()
    assert runs


def test_a_revisions_files_with_odd_names_are_candidates(tmp_path, monkeypatch):
    """git grep quotes a name that is not plain ASCII unless told -z: such a file named no
    file, and its table was missed."""
    from pvscan.source.git import GitTree

    monkeypatch.setenv("PVSCAN_NO_CACHE", "1")
    work = tmp_path / "linux"
    (work / "arch" / "x86").mkdir(parents=True)
    (work / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n")
    for name in ("pär a.c", "tab\there.c", "plain.c"):
        (work / "arch" / "x86" / name).write_text("struct pv_cpu_ops pv_cpu_ops;\n")
    git = ["git", "-C", str(work), "-c", "user.email=t@example.org", "-c", "user.name=T"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "odd"], check=True)
    tree = GitTree(str(work), "HEAD")
    try:
        assert tree.candidates([]) == sorted(["arch/x86/pär a.c", "arch/x86/plain.c", "arch/x86/tab\there.c"])
    finally:
        tree.close()
    # The same names as a step's changed files, searched through the temporary index.
    from pvscan.history.run import RevisionSpec, prime_candidates

    for name in ("pär a.c", "tab\there.c"):
        (work / "arch" / "x86" / name).write_text("struct pv_cpu_ops pv_cpu_ops; /* changed */\n")
    (work / "arch" / "x86" / "nouveau\u0301.h").write_text("extern struct pv_cpu_ops pv_cpu_ops;\n")
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "odd step"], check=True)
    (_, after) = prime_candidates([RevisionSpec("one", "git", str(work), "HEAD~1"),
                                   RevisionSpec("two", "git", str(work), "HEAD")])
    assert list(after.candidates) == sorted(["arch/x86/pär a.c", "arch/x86/plain.c", "arch/x86/tab\there.c",
                                             "arch/x86/nouveau\u0301.h"])


# 2.6.32's arch/x86/Kconfig and header layout, reduced: X86_32 'def_bool !64BIT', X86_64
# 'def_bool 64BIT', X86_PAE 'depends on X86_32'; pgtable_types.h includes pgtable_32_types.h or
# pgtable_64_types.h (:21 PAGETABLE_LEVELS 4), and pgtable_32_types.h includes the 3-level
# header (:27 PAGETABLE_LEVELS 3) under CONFIG_X86_PAE, the 2-level one otherwise.
TARGET_FILES = {
    "arch/x86/Kconfig": 'config 64BIT\n\tbool "64-bit kernel"\n\nconfig X86_32\n\tdef_bool !64BIT\n\n'
                        'config X86_64\n\tdef_bool 64BIT\n\nconfig X86_PAE\n\tbool "PAE"\n\tdepends on X86_32\n',
    "arch/x86/include/asm/pgtable_types.h": '#ifdef CONFIG_X86_32\n# include "pgtable_32_types.h"\n#else\n'
                                            '# include "pgtable_64_types.h"\n#endif\n',
    "arch/x86/include/asm/pgtable_32_types.h": "#ifdef CONFIG_X86_PAE\n# include <asm/pgtable-3level_types.h>\n"
                                               "#else\n# include <asm/pgtable-2level_types.h>\n#endif\n",
    "arch/x86/include/asm/pgtable-3level_types.h": "#define PAGETABLE_LEVELS\t3\n",
    "arch/x86/include/asm/pgtable-2level_types.h": "#define PAGETABLE_LEVELS\t2\n",
    "arch/x86/include/asm/pgtable_64_types.h": "#define PAGETABLE_LEVELS\t4\n",
}


def test_history_completes_each_abis_configuration_as_check_does(tmp_path):
    # gen2's set_pte_atomic is under 'PAGETABLE_LEVELS >= 3 && defined(CONFIG_X86_PAE)', set_pud
    # under 'PAGETABLE_LEVELS >= 3'. An x86-64 ABI that says neither: check takes PAGETABLE_LEVELS
    # from the target's headers and X86_PAE = n from the Kconfig, and so must history, from a
    # directory and from a git revision alike (it once judged them under the ABI as written).
    from conftest import git_checkout

    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.history.run import RevisionSpec, scan_revision
    from pvscan.pipeline import inventory_of
    from pvscan.source.directory import KernelTree

    root = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen2-split"), root)
    for rel, text in TARGET_FILES.items():
        (root / rel).write_text(text)
    git_checkout(tmp_path / "repo", root)
    abi = tmp_path / "x64.toml"
    abi.write_text('[abi]\nname = "x64"\nversion = "1"\narch = "x86"\ntarget = "x86_64"\nword_bits = 64\n'
                   'register_args = 6\nbackend = "xen"\ndescription = "maps nothing"\nsources = ["test"]\n'
                   '[abi.config]\nCONFIG_PARAVIRT = true\nCONFIG_X86_64 = true\n')
    tree = KernelTree(root)
    checked, notes = check_tree(tree, inventory_of(tree).inventory, [load_abi(str(abi))])
    assert any("PAGETABLE_LEVELS = 4" in n and "pgtable_64_types.h:1" in n for n in notes)
    assert any("CONFIG_X86_PAE = n" in n for n in notes)
    kinds = sorted((a, arch, o, k) for (a, arch, o), k in checked.op_kinds.items())
    assert ("x64", "x86", "pv_mmu_ops.set_pte_atomic", "excluded") in kinds
    assert ("x64", "x86", "pv_mmu_ops.set_pud", "unmapped") in kinds
    for spec in (RevisionSpec("dir", "tree", str(root), None, (str(abi),)),
                 RevisionSpec("git", "git", str(tmp_path / "repo"), "HEAD", (str(abi),))):
        summary = scan_revision(spec)
        assert summary.warning is None and not summary.kconfig_problems
        assert list(summary.kinds) == kinds, spec.kind
        assert list(summary.config_notes) == notes, spec.kind
    # The JSON says so, as the evidence for set_pte_atomic's missing verdict.
    doc, _ = history_json("--git", str(tmp_path / "repo"), "HEAD", "--abi", str(abi))
    assert doc["revisions"][0]["abi_config"] == notes


def _history_repository():
    from conftest import REPO

    made = subprocess.run([str(REPO / "scripts" / "make-history-repo")], capture_output=True, text=True)
    if made.returncode != 0:
        if os.environ.get("PVSCAN_REQUIRE_KERNELS"):
            pytest.fail(made.stderr[-300:])
        pytest.skip(f"history repository not available: {made.stderr[-200:]}")
    return made.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("version, abis", [
    ("6.12", ("xen-pv", "kvm", "hyperv", "vmi")), ("4.14", ("xen-pv", "kvm", "hyperv")),
    ("2.6.32", ("xen-pv", "kvm", "vmi", "lguest"))])
def test_a_real_revision_is_judged_by_history_as_check_judges_it(version, abis):
    # The same tree, the same ABIs: each op's kind (mapped, native, excluded ...) from history's
    # scan of the revision equals check's, the ABIs' configurations completed alike. 6.12 is
    # also read from the git object store (scripts/make-history-repo's v6.12).
    from conftest import kernel_path, old_kernel_path

    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.history.run import RevisionSpec, scan_revision
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    path = kernel_path(version) if version == "6.12" else old_kernel_path(version)
    result = scan(str(path))
    checked, _ = check_tree(KernelTree(path), result.inventory, [load_abi(a) for a in abis], version=result.version)
    want = sorted((a, arch, o, k) for (a, arch, o), k in checked.op_kinds.items())
    specs = [RevisionSpec(version, "tree", str(path), None, abis)]
    if version == "6.12":
        specs.append(RevisionSpec(version, "git", _history_repository(), "v6.12", abis))
    for spec in specs:
        summary = scan_revision(spec)
        assert summary.warning is None and list(summary.kinds) == want, spec.kind


def _tree(root, files: dict):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return str(root)


def test_a_member_that_became_a_static_call_moved(tmp_path):
    # 5.12 made pv_ops.time.steal_clock the static call pv_steal_clock: one op, moved, with
    # KVM installing it before (an assignment) and after (static_call_update).
    from pvscan.history.lineage import history_of
    from pvscan.history.run import RevisionSpec, scan_revision

    make = "VERSION = 5\nPATCHLEVEL = {}\nSUBLEVEL = 0\n"
    before = _tree(tmp_path / "a", {
        "Makefile": make.format(11),
        "arch/x86/include/asm/paravirt_types.h":
            "struct pv_time_ops {\n\tunsigned long long (*steal_clock)(int cpu);\n};\n"
            "struct paravirt_patch_template {\n\tstruct pv_time_ops time;\n};\n"
            "extern struct paravirt_patch_template pv_ops;\n",
        "arch/x86/include/asm/paravirt.h":
            "static inline u64 paravirt_steal_clock(int cpu)\n{\n"
            "\treturn PVOP_CALL1(u64, time.steal_clock, cpu);\n}\n",
        "arch/x86/kernel/kvm.c": "void kvm_guest_init(void)\n{\n\tpv_ops.time.steal_clock = kvm_steal_clock;\n}\n"})
    after = _tree(tmp_path / "b", {
        "Makefile": make.format(12),
        "arch/x86/include/asm/paravirt.h":
            "u64 dummy_steal_clock(int cpu);\nDECLARE_STATIC_CALL(pv_steal_clock, dummy_steal_clock);\n"
            "static inline u64 paravirt_steal_clock(int cpu)\n{\n"
            "\treturn static_call(pv_steal_clock)(cpu);\n}\n",
        "arch/x86/kernel/paravirt.c": "DEFINE_STATIC_CALL(pv_steal_clock, native_steal_clock);\n",
        "arch/x86/kernel/kvm.c":
            "void kvm_guest_init(void)\n{\n\tstatic_call_update(pv_steal_clock, kvm_steal_clock);\n}\n"})
    doc = history_of([scan_revision(RevisionSpec(n, "tree", t, None)) for n, t in (("a", before), ("b", after))], [])
    (lin,) = [lin for lin in doc.lineages if lin.identity == "x86:time.steal_clock"]
    assert lin.states[1].name == "pv_steal_clock"
    events = [(e.kind, e.detail) for e in doc.events[lin.identity] if e.revision == 1]
    assert ("moved", "time.steal_clock -> pv_steal_clock (by static call)") in events
    assert not [k for k, _ in events if k in ("removed", "added", "convention")]


def test_history_reports_a_shared_area_field_that_moved(tmp_path):
    # fixtures/gen4-named, then the same with version and flags of struct kvm_steal_time swapped:
    # the hypervisor still writes version at 8 (MSR_KVM_STEAL_TIME's documentation).
    import shutil

    after = tmp_path / "after"
    shutil.copytree(fixture_tree("gen4-named"), after)
    header = after / "arch/x86/include/uapi/asm/kvm_para.h"
    header.write_text(header.read_text().replace("\t__u32 version;\n\t__u32 flags;\n", "\t__u32 flags;\n\t__u32 version;\n"))
    doc, _ = history_json(str(fixture_tree("gen4-named")), str(after), "--abi", "kvm")
    assert [(c["abi"], c["area"], c["detail"]) for c in doc["area_changes"]] == [
        ("kvm", "kvm_steal_time", "field version: offset 8, 4 byte(s) -> offset 12, 4 byte(s)"),
        ("kvm", "kvm_steal_time", "field flags: offset 12, 4 byte(s) -> offset 8, 4 byte(s)")]
