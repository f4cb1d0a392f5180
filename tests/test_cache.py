"""The facts cache is shared between CI jobs and branches: whatever it holds is untrusted input."""

import json
import os
import pickle
import shutil

from conftest import fixture_tree, git_checkout, pvscan

from pvscan.run import Run

GEN3 = fixture_tree("gen3-unified")


def scan_json(cache, tree=GEN3, **env):
    proc = pvscan("scan", str(tree), "--format", "json", "-j", "1",
                  env={"PVSCAN_CACHE_DIR": str(cache), **env})
    assert proc.returncode == 0, proc.stderr
    return proc


def entries(cache):
    return sorted((cache / "facts").rglob("*.json"))


class _RunsCode:
    """What a poisoned pickle would carry: unpickling it creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_poisoned_entry_is_never_executed_and_is_recomputed(tmp_path):
    cache = tmp_path / "cache"
    clean = scan_json(cache).stdout
    assert entries(cache)
    marker = tmp_path / "ran"
    for entry in entries(cache):
        entry.write_bytes(pickle.dumps(_RunsCode(marker)))
    again = scan_json(cache)
    assert not marker.exists()
    assert again.stdout == clean
    cache_warnings = [line for line in again.stderr.splitlines() if "cache: entry" in line]
    assert len(cache_warnings) == 1 and "ignored and recomputed" in cache_warnings[0]
    # Recomputed entries are good again: the next run says nothing.
    assert "cache" not in scan_json(cache).stderr


def test_an_entry_of_the_wrong_shape_is_a_miss(tmp_path):
    cache = tmp_path / "cache"
    clean = scan_json(cache).stdout
    for i, entry in enumerate(entries(cache)):
        doc = json.loads(entry.read_text())
        # a string where a line number goes, a list too short, a number too big, deep nesting
        bad = [["x", "y"], doc[:1], [[10 ** 30]], [[[[[[[[]]]]]]]]][i % 4]
        entry.write_text(json.dumps(bad))
    assert scan_json(cache).stdout == clean


def test_a_fifo_in_place_of_an_entry_is_not_waited_on(tmp_path):
    cache = tmp_path / "cache"
    clean = scan_json(cache).stdout
    for entry in entries(cache):
        entry.unlink()
        os.mkfifo(entry)
    proc = pvscan("scan", str(GEN3), "--format", "json", "-j", "1", env={"PVSCAN_CACHE_DIR": str(cache)},
                  timeout=60)
    assert proc.stdout == clean and "not a regular file" in proc.stderr


def test_a_symlinked_entry_is_not_followed(tmp_path):
    cache = tmp_path / "cache"
    clean = scan_json(cache).stdout
    target = tmp_path / "elsewhere.json"
    first = entries(cache)[0]
    shutil.copy(first, target)
    first.unlink()
    first.symlink_to(target)
    proc = scan_json(cache)
    assert proc.stdout == clean and "cache: entry" in proc.stderr


def test_a_cache_inside_the_tree_is_not_used(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    proc = scan_json(tree / "cache", tree=tree)
    assert "is inside the tree; not used" in proc.stderr
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before


def test_a_candidate_list_with_foreign_items_is_a_miss(tmp_path):
    repo = tmp_path / "repo"
    git_checkout(repo)
    cache = tmp_path / "cache"
    history = ["history", "--git", str(repo), "HEAD", "--format", "json", "-j", "1"]
    clean = pvscan(*history, env={"PVSCAN_CACHE_DIR": str(cache)}).stdout
    (tree_list,) = (cache / "trees").glob("*.json")
    doc = json.loads(tree_list.read_text())
    doc["candidates"] = [1, {"a": 2}, "../../etc/passwd"]
    tree_list.write_text(json.dumps(doc))
    proc = pvscan(*history, env={"PVSCAN_CACHE_DIR": str(cache)})
    assert proc.stdout == clean and "not a candidate list of that source" in proc.stderr


def test_facts_survive_the_cache_format_exactly():
    """Every fixture file's facts decode to the very values that were encoded."""
    from pvscan.errors import Warning_
    from pvscan.facts.codec import decode, encode
    from pvscan.facts.model import FileFacts
    from pvscan.facts.parse import parse_file

    checked = 0
    for path in sorted(fixture_tree("").rglob("*.[ch]")):
        rel = str(path.relative_to(fixture_tree("")))
        value = (parse_file(rel, path.read_bytes()), (Warning_(rel, 3, "not UTF-8; parsed as bytes"),))
        assert decode(encode(value), tuple[FileFacts, tuple[Warning_, ...]]) == value, rel
        checked += 1
    assert checked > 30


def test_remembered_wrappers_change_the_work_never_the_callers(tmp_path):
    """The one search finds the callers of the wrappers the last scan found; any other hint gives the same scan."""
    cache = tmp_path / "cache"
    cold = scan_json(cache, PVSCAN_NO_CACHE="").stdout        # no hint: a second search for every wrapper
    (hint,) = (cache / "wrappers").glob("*.json")
    doc = json.loads(hint.read_text())
    assert "write_cr3" in doc["wrappers"]
    assert scan_json(cache).stdout == cold                     # all remembered: one search
    for names in (["write_cr3"], ["no_such_wrapper", "x"], []):   # a few, stale, none
        hint.write_text(json.dumps({**doc, "wrappers": names}))
        assert scan_json(cache).stdout == cold
    hint.write_text('{"tree": 1, "wrappers": [["x"]]}')          # garbage: a miss
    proc = scan_json(cache)
    assert proc.stdout == cold and "not a list of wrapper names" in proc.stderr


def test_a_tree_searched_before_its_hint_was_set_still_counts_every_caller(tmp_path, monkeypatch):
    """The hint only counts for the search that used it: a tree object searched earlier searches again."""
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    fresh = scan(GEN3, jobs=1)                       # remembers the wrappers
    tree = KernelTree(GEN3)
    scan(tree, jobs=1, callers=False)                # searched without a hint
    again = scan(tree, jobs=1)                       # now a hint is set, but the search is done
    assert [o.callers for o in again.inventory.ops] == [o.callers for o in fresh.inventory.ops]
    assert again.callers == fresh.callers


def test_cached_calls_give_the_same_callers_and_a_poisoned_one_is_recomputed(tmp_path):
    cache = tmp_path / "cache"
    cold = scan_json(cache).stdout
    warm = scan_json(cache).stdout
    assert warm == cold
    entries_of_calls = sorted((cache / "calls").rglob("*.json"))
    assert entries_of_calls
    for entry in entries_of_calls:
        entry.write_text('[["write_cr3", "elsewhere.c", 1, null, false]]')
    proc = scan_json(cache)
    assert proc.stdout == cold and "holds calls of another file or wrapper" in proc.stderr


def test_a_git_checkout_rescan_equals_a_whole_tree_scan_after_edits_additions_deletions_and_renames(tmp_path):
    """The second scan of a checkout searches only what git says changed; it must say what a scan
    from nothing says, byte for byte, whatever changed in commits or in the work tree."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    cache = tmp_path / "cache"

    def same_as_from_nothing():
        args = ("scan", str(repo), "--format", "json", "--callers", "-j", "1")
        incremental = pvscan(*args, env={"PVSCAN_CACHE_DIR": str(cache)})
        whole = pvscan(*args, env={"PVSCAN_CACHE_DIR": str(tmp_path / "fresh"), "PVSCAN_NO_CACHE": "1"})
        assert incremental.returncode == 0, incremental.stderr
        assert incremental.stdout == whole.stdout
        return json.loads(incremental.stdout)

    same_as_from_nothing()                                    # remembers the whole search
    assert list((cache / "wrappers").glob("*.json"))
    types = repo / "arch/x86/include/asm/paravirt_types.h"
    set_pmd = "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);"
    # An edit in the work tree: a new op.
    types.write_text(types.read_text().replace(set_pmd, set_pmd + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"))
    assert any(o["name"] == "mmu.enter_mmap" for o in same_as_from_nothing()["ops"])
    # A new untracked backend file, and a new caller of a wrapper.
    (repo / "arch/x86/xen/new.c").write_text("void __init xen_n(void) { pv_ops.cpu.io_delay = xen_n_delay; }\n")
    (repo / "mm/new_caller.c").write_text("void f(void) { write_cr3(0); }\n")
    doc = same_as_from_nothing()
    assert any(i["function"] == "xen_n_delay" for o in doc["ops"] for i in o["implementations"])
    # Committed, then a deletion and a rename committed, then a revert of the edit left in the work tree.
    git("add", "-A")
    git("commit", "-qm", "more")
    git("rm", "-q", "arch/x86/kernel/kvm.c")
    git("mv", "arch/x86/xen/mmu_pv.c", "arch/x86/xen/mmu_renamed.c")
    git("commit", "-qm", "less")
    doc = same_as_from_nothing()
    assert "kvm" not in {b["name"] for b in doc["backends"]}
    types.write_text(types.read_text().replace("\n\tvoid (*enter_mmap)(struct mm_struct *mm);", ""))
    assert not any(o["name"] == "mmu.enter_mmap" for o in same_as_from_nothing()["ops"])
    # A file in a directory .gitignore names whole: git status shows the directory, not the file,
    # unless asked for every ignored file; the whole-tree search reads it (--no-ignore).
    (repo / ".gitignore").write_text("/generated/\n")
    (repo / "generated").mkdir()
    gen = repo / "generated" / "gen.c"
    gen.write_text("void f(void) { }\n")
    same_as_from_nothing()
    gen.write_text("void __init xen_g(void) { pv_ops.cpu.io_delay = xen_g_delay; }\n")
    doc = same_as_from_nothing()
    assert any(i["function"] == "xen_g_delay" for o in doc["ops"] for i in o["implementations"])


def test_an_unchanged_checkout_gives_the_last_output_and_any_change_is_a_new_scan(tmp_path):
    """The output of a scan of a checkout is kept under a digest of its commit tree, its git
    status, the bytes of every source file the status lists and of the Makefile, and the
    options. To see a hit, the kept output is replaced by a marker."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}

    def scan(*extra):
        proc = pvscan("scan", str(repo), "--format", "json", "-j", "1", *extra, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def mark():
        for entry in (cache / "outputs").glob("*.json"):
            doc = json.loads(entry.read_text())
            entry.write_text(json.dumps({**doc, "stdout": "HIT\n"}))

    first = scan()
    assert scan() == first              # kept from here on (see the test below)
    mark()
    assert scan() == "HIT\n"
    assert scan("--no-callers") != "HIT\n"                  # other options
    mark()
    assert scan("--no-callers") == "HIT\n"                  # kept too: it asks for no wrapper names
    (repo / ".gitignore").write_text("/generated/\n")
    assert scan() == "HIT\n"                                 # .gitignore is no source: the same state
    (repo / "generated").mkdir()
    gen = repo / "generated" / "gen.c"
    gen.write_text("void f(void) { }\n")                     # an ignored file, new
    mark()
    assert scan() != "HIT\n"
    mark()
    gen.write_text("void f(void) { int x; }\n")              # an ignored file, changed
    assert scan() != "HIT\n"
    mark()
    makefile = repo / "Makefile"
    makefile.write_text(makefile.read_text().replace("SUBLEVEL = ", "SUBLEVEL = 9", 1))
    assert scan() != "HIT\n"                                 # the version
    git("add", "-A")
    git("commit", "-qm", "more")
    mark()
    (repo / "mm" / "new_caller.c").write_text("void g(void) { write_cr3(0); }\n")
    assert scan() != "HIT\n"                                 # an untracked file
    mark()
    git("add", "-A")
    git("commit", "-qm", "again")
    out = scan()
    assert out != "HIT\n" and out == pvscan("scan", str(repo), "--format", "json", "-j", "1",
                                           env={"PVSCAN_NO_CACHE": "1"}).stdout


def test_the_first_scan_of_a_checkout_keeps_its_output_when_the_headers_name_every_wrapper(tmp_path):
    """Before its one search, a scan guesses the wrappers from the paravirt headers (include/,
    arch/*/include/); in the fixture, as in 6.12, they define every one, so the first search
    finds every caller and the checkout's remembered search holds them: its output is kept."""
    repo = tmp_path / "repo"
    git_checkout(repo)
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("scan", str(repo), "--format", "json", "-j", "1")
    first = pvscan(*args, env=env).stdout
    assert len(list((cache / "outputs").glob("*.json"))) == 1
    assert pvscan(*args, env=env).stdout == first
    assert first == pvscan(*args, env={"PVSCAN_NO_CACHE": "1"}).stdout


def test_the_first_scan_of_a_checkout_keeps_no_output_when_a_wrapper_lies_outside_the_headers(tmp_path):
    """A wrapper defined in a .c file is found only by the parse after the search, so its callers
    need a second search that the checkout's remembered search does not hold. That output is not
    kept: a rescan in the same state must run and remember a search that holds the name, or the
    first change after it would search the whole tree again."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    (repo / "arch/x86/kernel/local_wrap.c").write_text(
        "static void flush_here(void)\n{\n\tPVOP_VCALL0(mmu.flush_tlb_user);\n}\n\n"
        "void flush_twice(void)\n{\n\tflush_here();\n\tflush_here();\n}\n")
    git("add", "-A")
    git("commit", "-qm", "a wrapper in a .c file")
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("scan", str(repo), "--format", "json", "-j", "1")
    first = pvscan(*args, env=env).stdout
    doc = json.loads(first)
    assert any(w["name"] == "flush_here" and w["callers"] == 2 for op in doc["ops"] for w in op["wrappers"])
    assert not list((cache / "outputs").glob("*.json"))
    assert pvscan(*args, env=env).stdout == first
    assert len(list((cache / "outputs").glob("*.json"))) == 1


def test_a_review_of_a_checkout_leaves_the_next_scan_its_incremental_search(tmp_path):
    """A review asks the checkout's search for no wrapper calls; the remembered search covers the
    scan's wrappers and must go on covering them, or the scan after the next commit searches the
    whole tree. Whatever the order, the output is a whole-tree scan's."""
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("scan", str(repo), "--format", "json", "--callers", "-j", "1")
    pvscan(*args, env=env)
    pvscan(*args, env=env)

    def record():
        """The checkout's remembered search (the entry with a tree id among the hints)."""
        docs = [json.loads(p.read_text()) for p in (cache / "wrappers").glob("*.json")]
        return next(d for d in docs if "tree_id" in d)

    assert record()["wrappers"] and record()["calls"]
    patch = tmp_path / "p.diff"
    types = repo / "arch/x86/include/asm/paravirt_types.h"
    old = types.read_text()
    new = old.replace("\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);",
                      "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);\n\tvoid (*enter_mmap)(struct mm_struct *mm);")
    import difflib
    patch.write_text("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                  "a/arch/x86/include/asm/paravirt_types.h",
                                                  "b/arch/x86/include/asm/paravirt_types.h")))
    proc = pvscan("review", "--tree", str(repo), str(patch), env=env)
    assert "PV101 patch adds op mmu.enter_mmap" in proc.stdout
    assert record()["wrappers"] and record()["calls"]          # still the scan's names and calls
    (repo / "mm" / "new_caller.c").write_text("void g(void) { write_cr3(0); }\n")
    git("add", "-A")
    git("commit", "-qm", "one file")
    out = pvscan(*args, env=env).stdout
    assert out == pvscan(*args, env={"PVSCAN_NO_CACHE": "1"}).stdout


def test_a_review_works_on_the_remembered_search_and_does_it_again_when_git_says_it_changed(tmp_path, monkeypatch,
                                                                                         capsys):
    """A review of a checkout runs on its last search while git status runs, then asks git. Nothing
    changed: one review. A backend file added or deleted since the last search: the review is
    done again on the true search, and says what a review from nothing says."""
    import difflib

    from pvscan import cli
    from pvscan.review import review as review_module

    repo = tmp_path / "repo"
    git_checkout(repo)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(cache))
    assert pvscan("scan", str(repo), "--format", "json", "-j", "1", env={"PVSCAN_CACHE_DIR": str(cache)}).returncode == 0
    types = repo / "arch/x86/include/asm/paravirt_types.h"
    old = types.read_text()
    new = old.replace("\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);",
                      "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);\n\tvoid (*enter_mmap)(struct mm_struct *mm);")
    patch = tmp_path / "p.diff"
    patch.write_text("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                  "a/arch/x86/include/asm/paravirt_types.h",
                                                  "b/arch/x86/include/asm/paravirt_types.h")))
    reviews = []
    real_review = review_module.review_series
    monkeypatch.setattr(review_module, "review_series", lambda *a, **kw: reviews.append(a) or real_review(*a, **kw))

    def review_in_process():
        capsys.readouterr()
        assert cli.main(["review", "--tree", str(repo), "--fail-on", "never", str(patch)]) == 0
        return capsys.readouterr().out

    assert "PV101 patch adds op mmu.enter_mmap" in review_in_process() and len(reviews) == 1
    (repo / "arch/x86/xen/more_mmu.c").write_text(
        "static const typeof(pv_ops) xen_more_ops __initconst = {\n\t.mmu = {\n"
        "\t\t.set_pte = xen_set_pte_more,\n\t},\n};\n\n"
        "void __init xen_more_init(void)\n{\n\tpv_ops.mmu = xen_more_ops.mmu;\n}\n")
    reviews.clear()
    out = review_in_process()
    assert len(reviews) == 2, "the remembered search lacks more_mmu.c: reviewed again"
    assert "arch/x86/xen/more_mmu.c" in out
    assert out == pvscan("review", "--tree", str(repo), "--fail-on", "never", str(patch),
                         env={"PVSCAN_NO_CACHE": "1"}).stdout
    reviews.clear()
    assert review_in_process() == out and len(reviews) == 1
    # A remembered candidate deleted since: reviewed again, without it.
    (repo / "arch/x86/xen/more_mmu.c").unlink()
    reviews.clear()
    out = review_in_process()
    assert len(reviews) == 2 and "arch/x86/xen/more_mmu.c" not in out
    assert out == pvscan("review", "--tree", str(repo), "--fail-on", "never", str(patch),
                         env={"PVSCAN_NO_CACHE": "1"}).stdout


def test_the_search_record_of_an_unchanged_checkout_is_not_written_again(tmp_path):
    """A review of a checkout nothing changed in reads the checkout's remembered search and
    writes nothing (215 KB of JSON on 6.12, each run); a scan after a change writes it anew."""
    repo = tmp_path / "repo"
    git_checkout(repo)
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("scan", str(repo), "--format", "json", "-j", "1")

    def record_inode():
        """The inode of the checkout's remembered search: a write replaces the file."""
        paths = [p for p in (cache / "wrappers").glob("*.json") if "tree_id" in json.loads(p.read_text())]
        assert len(paths) == 1
        return paths[0].stat().st_ino

    pvscan(*args, env=env)
    first = record_inode()
    types = "arch/x86/include/asm/paravirt_types.h"
    old = (repo / types).read_text()
    new = old.replace("\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);",
                      "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);\n\tvoid (*enter_mmap)(struct mm_struct *mm);")
    import difflib
    patch = tmp_path / "p.diff"
    patch.write_text("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                  f"a/{types}", f"b/{types}")))
    for _ in range(2):
        proc = pvscan("review", "--tree", str(repo), str(patch), env=env)
        assert "PV101 patch adds op mmu.enter_mmap" in proc.stdout
        assert record_inode() == first
    (repo / "mm" / "new_caller.c").write_text("void g(void) { write_cr3(0); }\n")
    pvscan(*args, env=env)
    assert record_inode() != first


def test_a_kept_output_with_terminal_control_sequences_is_not_replayed(tmp_path):
    """The cache may be shared and is untrusted: a kept output that holds control characters
    (beyond newline, tab and colours) is a bad entry, said once, and the scan runs."""
    repo = tmp_path / "repo"
    git_checkout(repo)
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("scan", str(repo), "--format", "json", "-j", "1")
    pvscan(*args, env=env)
    real = pvscan(*args, env=env).stdout
    for entry in (cache / "outputs").glob("*.json"):
        doc = json.loads(entry.read_text())
        entry.write_text(json.dumps({**doc, "stdout": "\x1b]0;owned\x07" + doc["stdout"]}))
    proc = pvscan(*args, env=env)
    assert proc.stdout == real and "\x1b" not in proc.stdout
    assert "not the output of that run; ignored and recomputed" in proc.stderr


_aged = [1_600_000_000]


def _age_directories(repo):
    """Every directory of the work tree changed in the last ten minutes, as if changed long ago:
    only then is a listing of its untracked files remembered (a directory changed within two
    seconds may have changed in the clock tick of its listing). Each call gives a time of its
    own, as a later change would, so that a directory aged again is seen as changed."""
    import time

    _aged[0] += 1
    for where, dirs, _ in os.walk(repo):
        if ".git" in dirs and where == str(repo):
            dirs.remove(".git")
        if os.lstat(where).st_mtime > time.time() - 600:
            os.utime(where, (_aged[0], _aged[0]))


def test_a_checkout_lists_its_untracked_files_again_only_when_a_directory_changed(tmp_path, monkeypatch):
    """Listing untracked and ignored files reads every directory (0.2 s of git status on 6.12);
    the list is remembered with every directory's time and used again while none changed. A
    file cannot appear, vanish or be renamed without changing its directory, and a file edited
    in place is read again because it is listed. Whatever happens, the scan is a whole-tree one."""
    from pvscan.source import checkout

    repo = tmp_path / "repo"
    git = git_checkout(repo)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(cache))
    (repo / ".gitignore").write_text("/generated/\n")
    (repo / "generated").mkdir()
    gen = repo / "generated" / "gen.c"
    gen.write_text("void f(void) { }\n")
    (repo / "mm" / "extra.c").write_text("void g(void) { write_cr3(0); }\n")
    root = str(repo.resolve())
    listings = []
    real_list_others = checkout._list_others
    monkeypatch.setattr(checkout, "_list_others",
                        lambda r, cache, seen=None, where=None: listings.append(where)
                        or real_list_others(r, cache, seen, where))

    def same_as_from_nothing():
        args = ("scan", str(repo), "--format", "json", "--callers", "-j", "1")
        out = pvscan(*args, env={"PVSCAN_CACHE_DIR": str(cache)}).stdout
        assert out == pvscan(*args, env={"PVSCAN_NO_CACHE": "1"}).stdout
        return json.loads(out)

    def status():
        tree_id, text = checkout._head_and_status(Run(), root)
        return sorted(checkout._listed(text))

    def settle():
        """What changed in the last minutes is now old, and listed again, and remembered."""
        _age_directories(repo)
        status()

    assert status() == ["generated/gen.c", "mm/extra.c"] and len(listings) == 1
    assert not list((cache / "wrappers").glob("*.json")), "directories changed just now: nothing kept"
    _age_directories(repo)
    assert status() == ["generated/gen.c", "mm/extra.c"] and len(listings) == 2
    assert status() == ["generated/gen.c", "mm/extra.c"] and len(listings) == 2   # remembered
    same_as_from_nothing()
    # Edited in place: no directory changes, the listed file is read again.
    gen.write_text("void __init xen_g(void) { pv_ops.cpu.io_delay = xen_g_delay; }\n")
    assert status() == ["generated/gen.c", "mm/extra.c"] and len(listings) == 2
    doc = same_as_from_nothing()
    assert any(i["function"] == "xen_g_delay" for o in doc["ops"] for i in o["implementations"])
    # A new file, a deleted one, a new directory: each changes a directory, which alone is
    # listed again; a change at the top lists the whole tree.
    (repo / "mm" / "new_caller.c").write_text("void h(void) { write_cr3(1); }\n")
    assert status() == ["generated/gen.c", "mm/extra.c", "mm/new_caller.c"] and listings[2:] == [["mm"]]
    same_as_from_nothing()
    settle()
    (repo / "mm" / "extra.c").unlink()
    assert status() == ["generated/gen.c", "mm/new_caller.c"] and listings[-1] == ["mm"]
    settle()
    (repo / "generated" / "deeper").mkdir()
    (repo / "generated" / "deeper" / "more.c").write_text("void k(void) { write_cr3(2); }\n")
    assert status() == ["generated/deeper/more.c", "generated/gen.c", "mm/new_caller.c"]
    assert listings[-1] == ["generated"]
    settle()
    shutil.rmtree(repo / "generated" / "deeper")
    (repo / "arch" / "x86" / "kernel" / "extra.c").write_text("void e(void) { write_cr3(3); }\n")
    assert status() == ["arch/x86/kernel/extra.c", "generated/gen.c", "mm/new_caller.c"]
    assert listings[-1] == ["arch/x86/kernel", "generated"]
    same_as_from_nothing()
    # Under tools/ or a hidden directory nothing is searched: a change there lists nothing again.
    (repo / "tools" / "objtool").mkdir(parents=True, exist_ok=True)
    (repo / "drivers" / ".hidden").mkdir()
    settle()
    known, listed = len(listings), status()
    (repo / "tools" / "objtool" / "x.c").write_text("void x(void) { write_cr3(5); }\n")
    (repo / "drivers" / ".hidden" / "y.c").write_text("void y(void) { write_cr3(6); }\n")
    assert status() == listed and len(listings) == known
    same_as_from_nothing()
    (repo / "top.c").write_text("void t(void) { write_cr3(4); }\n")
    assert "top.c" in status() and listings[-1] is None
    same_as_from_nothing()
    # Added and committed: the index changes, no directory does; the scan is still a whole-tree one.
    settle()
    git("add", "mm/new_caller.c")
    git("commit", "-qm", "a caller")
    assert "mm/new_caller.c" in status()
    same_as_from_nothing()


def test_a_repository_inside_the_checkout_is_always_searched_whole(tmp_path):
    """git lists another repository inside the work tree as one directory ('?? sub/') and never
    looks into it; the whole-tree search reads its files. Such a checkout is searched whole,
    and its output is not kept, so a change inside the inner repository is always seen."""
    repo = tmp_path / "repo"
    git_checkout(repo)
    inner = repo / "drivers" / "inner"
    inner.mkdir(parents=True)
    subprocess_run = __import__("subprocess").run
    subprocess_run(["git", "init", "-q", str(inner)], check=True)
    caller = inner / "user.c"
    caller.write_text("void u(void) { write_cr3(0); }\n")
    cache = tmp_path / "cache"
    args = ("scan", str(repo), "--format", "json", "--callers", "-j", "1")

    def same_as_from_nothing():
        out = pvscan(*args, env={"PVSCAN_CACHE_DIR": str(cache)}).stdout
        assert out == pvscan(*args, env={"PVSCAN_NO_CACHE": "1"}).stdout
        return json.loads(out)

    same_as_from_nothing()
    same_as_from_nothing()
    caller.write_text("void u(void) { write_cr3(0); write_cr3(1); }\n")
    doc = same_as_from_nothing()
    (w,) = [w for o in doc["ops"] if o["name"] == "mmu.write_cr3" for w in o["wrappers"]]
    assert not list((cache / "outputs").glob("*.json"))
    assert w["callers"] >= 2


def test_a_parsed_abi_file_is_kept_by_its_bytes_and_a_poisoned_one_is_parsed_again(tmp_path, monkeypatch):
    """tomllib is slow on an ABI file's many strings; its document is kept under the SHA-256 of
    the file's bytes. A changed file is another entry; a bad entry is parsed again, said once."""
    from pvscan.abi.tomlfile import parse_toml

    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("check", str(GEN3), "--abi", "xen-pv", "--format", "json", "--fail-on", "never", "-j", "1")
    first = pvscan(*args, env=env)
    (entry,) = (cache / "toml").glob("*.json")
    assert pvscan(*args, env=env).stdout == first.stdout
    entry.write_text(json.dumps({"sha256": json.loads(entry.read_text())["sha256"], "document": [1]}))
    proc = pvscan(*args, env=env)
    assert proc.stdout == first.stdout and "not a parsed TOML document" in proc.stderr
    # A date does not come back from JSON as it went in: such a document is not kept.
    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "other"))
    assert parse_toml(b"when = 2007-03-13\n", "dated.toml")["when"].year == 2007
    assert not (tmp_path / "other" / "toml").exists()
    assert parse_toml(b"a = 1\n", "plain.toml") == {"a": 1}
    assert len(list((tmp_path / "other" / "toml").glob("*.json"))) == 1


def test_pruning_removes_what_went_unused_longest_and_nothing_but_entries(tmp_path):
    """Entries unused for the age go first, then the least recently used until the entries fit
    the size; kernels and patches kept beside them (scripts/fetch-kernels) are never looked at."""
    import time

    from pvscan.cache import prune

    root = tmp_path / "cache"
    now = time.time()

    def entry(rel, days_ago, size=1000):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        os.utime(path, (now - days_ago * 86400,) * 2)
        return path

    old = entry("facts/ab/old.json", 40)
    kernel = entry("kernels/linux-source-6.12/Makefile", 400)
    patch = entry("patches/p.mbox", 400)
    recent = [entry(f"calls/0{i}/e{i}.json", i) for i in range(1, 6)]     # 1..5 days old
    removed, left = prune(root, 30 * 86400, 10**9)
    assert removed == 1 and not old.exists() and kernel.exists() and patch.exists()
    assert left == 5000 and all(p.exists() for p in recent)
    removed, left = prune(root, 30 * 86400, 2500)        # room for two: the two used last stay
    assert removed == 3 and left == 2000
    assert [p.exists() for p in recent] == [True, True, False, False, False]
    assert kernel.exists() and patch.exists()


def test_a_cache_hit_makes_its_entry_the_last_to_be_pruned(tmp_path):
    cache = tmp_path / "cache"
    scan_json(cache)
    long_ago = 1_500_000_000
    for path in (cache / "facts").rglob("*.json"):
        os.utime(path, (long_ago, long_ago))
    scan_json(cache)                                     # every entry is read again
    assert all(p.stat().st_mtime > long_ago for p in (cache / "facts").rglob("*.json"))


def test_a_run_prunes_its_cache_at_most_once_a_day_and_never_one_inside_the_tree(tmp_path):
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache), "PVSCAN_CACHE_MAX_DAYS": "0"}
    args = ("scan", str(GEN3), "--format", "json", "-j", "1")
    first = pvscan(*args, env=env)
    assert first.returncode == 0 and (cache / ".pruned").exists()
    assert not list((cache / "facts").rglob("*.json")), "max age 0: all pruned at the end of the run"
    assert pvscan(*args, env=env).stdout == first.stdout
    assert list((cache / "facts").rglob("*.json")), "pruned less than a day ago: kept"
    (cache / ".pruned").unlink()                          # a day later
    proc = pvscan(*args, env={**env, "PVSCAN_CACHE_MAX_DAYS": "soon"})
    assert "PVSCAN_CACHE_MAX_DAYS='soon' is not a whole number" in proc.stderr
    # A cache inside the tree is neither used nor pruned; the ABI files' parse is not kept there.
    tree = tmp_path / "tree"
    shutil.copytree(GEN3, tree)
    inside = {"PVSCAN_CACHE_DIR": str(tree / ".cache"), "PVSCAN_CACHE_MAX_DAYS": "0"}
    proc = pvscan("check", str(tree), "--abi", "xen-pv", "--fail-on", "never", "-j", "1", env=inside)
    assert proc.returncode == 0 and not (tree / ".cache").exists()


def test_a_poisoned_listing_of_untracked_files_is_listed_again(tmp_path):
    """The remembered listing must hold the top directory's time (without it a new top-level file
    would go unseen), relative paths and whole numbers; anything else is listed again, said once."""
    repo = tmp_path / "repo"
    git_checkout(repo)
    _age_directories(repo)
    cache = tmp_path / "cache"
    env = {"PVSCAN_CACHE_DIR": str(cache)}
    args = ("scan", str(repo), "--format", "json", "-j", "1")
    first = pvscan(*args, env=env).stdout
    docs = {p: json.loads(p.read_text()) for p in (cache / "wrappers").glob("*.json")}
    (listing,) = [p for p, d in docs.items() if "dirs" in d]
    doc = docs[listing]
    (repo / "newdir").mkdir()                                 # only the top's time changes
    (repo / "newdir" / "c.c").write_text("void t(void) { write_cr3(4); }\n")
    for poison in ({k: v for k, v in doc["dirs"].items() if k != "."}, {**doc["dirs"], "../x": 1},
                   {**doc["dirs"], "mm": "soon"}):
        listing.write_text(json.dumps({**doc, "dirs": poison}))
        proc = pvscan(*args, env=env)
        assert "not the listing of that checkout" in proc.stderr
        assert proc.stdout != first and proc.stdout == pvscan(*args, env={"PVSCAN_NO_CACHE": "1"}).stdout


def test_a_cache_the_run_cannot_write_is_not_walked_for_pruning(tmp_path, monkeypatch):
    """Pruning walks every entry; a run marks it done first, in .pruned. A cache shared read-only
    (the mark cannot be written) would otherwise be walked at the end of every run."""
    from pvscan import cache
    from pvscan.run import Run

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    walked = []
    monkeypatch.setattr(cache, "prune", lambda root, age, size: walked.append(root))
    run = Run()
    cache.Cache.for_run(run)
    monkeypatch.setattr(cache, "_atomic_write", lambda path, data: None)     # nothing can be written
    cache.prune_used(run)
    assert walked == []
    monkeypatch.undo()
    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "prune", lambda root, age, size: walked.append(root))
    run = Run()
    cache.Cache.for_run(run)
    cache.prune_used(run)
    cache.prune_used(run)                                # marked done: once a day
    assert walked == [tmp_path / "cache"]


def test_a_cached_kconfig_entry_holds_only_option_names():
    """The Kconfig entry's {option: [options]} is checked in one pass over the names joined by
    newlines, so a name that holds a newline (or anything but A-Z, a-z, 0-9 and _) must still be
    refused, as the check of each name alone refused it."""
    from pvscan.kconfig import _option_map

    assert _option_map({}) and _option_map({"PARAVIRT_XXL": ["PARAVIRT", "XEN_PV"], "104_QUAD_8": []})
    for bad in ([], {"A": "B"}, {"A": [1]}, {1: []}, {"": []}, {"A": [""]}, {"A-B": []},
                {"A": ["B\nC"]}, {"A\nB": []}, {"A": ["B "]}, {"A": [["B"]]}):
        assert not _option_map(bad), bad


def test_every_search_reads_the_same_files_hidden_ones_and_c_in_left_out(tmp_path, monkeypatch):
    """ripgrep, the Python walk, git grep of a commit and a checkout's incremental search read the
    same files (files.is_searched). ripgrep's own 'c' type would add *.c.in (6.12 has
    arch/um/kernel/config.c.in) and *.H, and it skips hidden directories but not hidden files."""
    from pvscan.source.checkout import search_checkout
    from pvscan.source.directory import KernelTree
    from pvscan.source.git import GitTree

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    repo = tmp_path / "repo"
    git = git_checkout(repo)
    table = "struct paravirt_patch_template pv_ops;\n"
    scanned = "arch/x86/kernel/also.c"
    left_out = [".hidden/x.h", "drivers/.h2/y.c", "drivers/.z.c", "arch/um/kernel/config.c.in", "drivers/v.H"]
    for rel in [scanned] + left_out:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(table)
    git("add", "-A")
    git("commit", "-qm", "odd names")

    def whole_tree(**env):
        monkeypatch.setenv("PVSCAN_NO_CACHE", "1")
        monkeypatch.delenv("PVSCAN_NO_RIPGREP", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return KernelTree(repo).candidates([])

    found = {
        "ripgrep": whole_tree(),
        "python": whole_tree(PVSCAN_NO_RIPGREP="1"),
        "git grep": GitTree(str(repo), "HEAD").candidates([]),
    }
    # A checkout's search, remembered, then done again after the odd files changed in the work
    # tree: those are searched one by one.
    monkeypatch.delenv("PVSCAN_NO_CACHE")
    monkeypatch.delenv("PVSCAN_NO_RIPGREP")
    search_checkout(KernelTree(repo), frozenset(), [])
    for rel in [scanned] + left_out:
        (repo / rel).write_text("/* changed */\n" + table)
    found["checkout"], _ = search_checkout(KernelTree(repo), frozenset(), [])
    for how, candidates in found.items():
        assert scanned in candidates, how
        assert not set(left_out) & set(candidates), how
    assert len({tuple(c) for c in found.values()}) == 1, found
    # The search for callers names its directories to ripgrep, which would search a hidden one
    # named (quilt's .pc/ holds copies of what it patched): none is named.
    from pvscan.source.search import dirs_for_arches

    (repo / ".pc" / "p1" / "mm").mkdir(parents=True)
    (repo / ".pc" / "p1" / "mm" / "old.c").write_text("void f(void) { write_cr3(0); }\n")
    named = dirs_for_arches(KernelTree(repo), ["x86"])
    assert "mm" in named and "arch/x86" in named and not [d for d in named if d.startswith(".")]
