"""Guards compared under the tree's Kconfig (pvscan.kconfig), on small Kconfig trees of our own."""

from __future__ import annotations

import pytest

KCONFIG = """\
mainmenu "pvscan test"

config PARAVIRT
\tbool "Enable paravirtualization code"

config XEN
\tbool "Xen guest support"
\tdepends on PARAVIRT

config XEN_PV
\tbool "Xen PV guest support"
\tdepends on XEN
\tselect PARAVIRT_XXL

# No prompt and no default: only XEN_PV can set it.
config PARAVIRT_XXL
\tbool

config X86_PAE
\tbool "PAE" ;
\tdepends X86_32

config 64BIT
\tbool "64-bit kernel"

# 2.6.32's arch/x86/Kconfig: no prompt, one default.
config X86_32
\tdef_bool !64BIT

config X86_64
\tdef_bool 64BIT

config GCC_PLUGINS
\tdef_bool $(shell,touch {marker} && echo y)

config MODULES
\tbool "Enable loadable module support"
\tmodules

# 4.14's and 6.12's arch/x86/Kconfig: set by its defaults alone.
config PGTABLE_LEVELS
\tint
\tdefault 5 if X86_5LEVEL
\tdefault 4 if X86_64
\tdefault 3 if X86_PAE
\tdefault 2

config X86_5LEVEL
\tbool "Enable 5-level page tables support"
\tdepends on X86_64

# A prompt: whatever the user types, so no default decides it.
config NR_CPUS
\tint "Maximum number of CPUs"
\tdefault 64 if 64BIT
\tdefault 8

# A tristate condition: 'm' is no #ifdef's to see.
config LEVELS_BY_MODULE
\tint
\tdefault 3 if TRI
\tdefault 2

config TRI
\ttristate "a module"
"""


@pytest.fixture
def tree(tmp_path):
    from pvscan.source.directory import KernelTree

    root = tmp_path / "linux"
    (root / "arch" / "x86").mkdir(parents=True)
    (root / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n")
    (root / "Kconfig").write_text(KCONFIG.format(marker=tmp_path / "ran"))
    return KernelTree(root)


def test_an_option_only_a_selector_sets_needs_what_the_selector_needs(tree):
    from pvscan.kconfig import load

    logic = load(tree, "x86")
    assert logic.problem is None
    assert logic.needs["PARAVIRT_XXL"] >= {"XEN_PV", "XEN", "PARAVIRT"}
    assert logic.equivalent("defined(CONFIG_PARAVIRT_XXL)", "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)")
    assert not logic.equivalent("defined(CONFIG_XEN)", "defined(CONFIG_PARAVIRT)")
    # Symbols that are not options stay unknown: never equal unless the text is.
    assert not logic.equivalent("PAGETABLE_LEVELS >= 3", "defined(CONFIG_PARAVIRT) && PAGETABLE_LEVELS >= 3")


def test_old_syntax_is_read(tree):
    # 'depends X' without 'on' (2.6.22), a ';' after the prompt (2.6.32), 'modules' (5.13 on).
    from pvscan.kconfig import load

    assert load(tree, "x86").needs["X86_PAE"] == {"X86_32"}


def test_an_abi_config_is_completed_with_what_kconfig_rules_out(tree):
    # X86_64 needs 64BIT; X86_32 is !64BIT; X86_PAE depends on X86_32: off on x86_64.
    from pvscan.kconfig import load

    logic = load(tree, "x86")
    assert logic.complete({"CONFIG_X86_64": True}, ["X86_PAE", "XEN"]) == {"CONFIG_X86_PAE": False}
    assert logic.complete({"CONFIG_X86_64": False}, ["X86_PAE"]) == {}


def test_reading_the_kconfig_runs_nothing_from_the_tree(tree, tmp_path, monkeypatch):
    # $(shell,...) expands to 'n', and no kconfigfunctions module in the working directory is imported.
    from pvscan.kconfig import load

    (tmp_path / "kconfigfunctions.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w')\nfunctions = {{}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load(tree, "x86").problem is None
    assert not (tmp_path / "ran").exists() and not (tmp_path / "imported").exists()


def test_an_unreadable_kconfig_compares_guards_as_text(tree):
    from pvscan.kconfig import load

    (tree.root / "Kconfig").write_text("config A\n\tbool \"a\"\n\tsource \"missing/Kconfig\"\n")
    logic = load(tree, "x86")
    assert "could not be read" in logic.problem
    assert not logic.equivalent("defined(CONFIG_A)", "defined(CONFIG_A) && 1")


def test_guards_compare_among_the_configurations_that_build_the_table(tree):
    # 6.1 -> 6.12: paravirt_types.h gains a file-wide '#ifdef CONFIG_PARAVIRT'; pv_ops lives in
    # paravirt.c, which 'obj-$(CONFIG_PARAVIRT) += paravirt.o' builds only with it.
    from pvscan.kconfig import LazyGuardLogic

    kernel = tree.root / "arch" / "x86" / "kernel"
    kernel.mkdir(parents=True)
    (kernel / "Makefile").write_text("obj-y += setup.o \\\n\ttime.o\nobj-$(CONFIG_PARAVIRT)\t\t+= paravirt.o\n")
    guards = LazyGuardLogic(tree)
    within = guards.built_when("arch/x86/kernel/paravirt.c")
    assert within == "defined(CONFIG_PARAVIRT)"
    assert guards.built_when("arch/x86/kernel/time.c") is None
    assert guards.equivalent(None, "defined(CONFIG_PARAVIRT)", "x86", within)
    assert not guards.equivalent(None, "defined(CONFIG_PARAVIRT)", "x86")
    assert not guards.equivalent("defined(CONFIG_PARAVIRT_XXL)", "defined(CONFIG_PARAVIRT)", "x86", within)


def test_a_history_asks_each_guard_question_once(tree, monkeypatch):
    """6.1 -> 6.12 has 82 ops whose guard text changes, all in tables one or two .c files build:
    each Makefile is read, and each pair of guards compared, once (warm history 0.51 -> 0.45 s)."""
    from pvscan.kconfig import LazyGuardLogic

    kernel = tree.root / "arch" / "x86" / "kernel"
    kernel.mkdir(parents=True)
    (kernel / "Makefile").write_text("obj-$(CONFIG_PARAVIRT)\t\t+= paravirt.o\n")
    guards = LazyGuardLogic(tree)
    reads, answers = [], []
    read, answer = tree.read, guards._answer
    monkeypatch.setattr(tree, "read", lambda rel: reads.append(rel) or read(rel))
    monkeypatch.setattr(guards, "_answer", lambda *q: answers.append(q) or answer(*q))
    for _op in range(3):
        within = guards.built_when("arch/x86/kernel/paravirt.c")
        assert within == "defined(CONFIG_PARAVIRT)"
        assert guards.equivalent("defined(CONFIG_PARAVIRT_XXL)",
                                 "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)", "x86", within)
    assert reads == ["arch/x86/kernel/Makefile"] and len(answers) == 1


def test_guards_equal_in_every_configuration_need_no_kconfig(tree):
    """'X' and 'defined(CONFIG_PARAVIRT) && X' within the table's 'defined(CONFIG_PARAVIRT)' are
    equal whatever the Kconfig says (80 of the 82 guard differences 6.1 -> 6.12): the Kconfig,
    seconds to read, is read only for the others."""
    from pvscan.kconfig import LazyGuardLogic

    guards = LazyGuardLogic(tree)
    assert guards.equivalent("defined(CONFIG_PARAVIRT_XXL)",
                             "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)",
                             "x86", "defined(CONFIG_PARAVIRT)")
    assert guards.logic == {}            # nothing read
    guards.equivalent("defined(CONFIG_PARAVIRT_XXL)", "defined(CONFIG_PARAVIRT)", "x86", "defined(CONFIG_PARAVIRT)")
    assert guards.logic                  # this one needs the Kconfig


def test_the_cached_kconfig_is_never_stale(tree, tmp_path, monkeypatch):
    # Each file read is hashed into the entry and checked on use: an edit is always seen; a bad
    # entry is a miss.
    from pvscan.kconfig import LazyGuardLogic

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PVSCAN_NO_CACHE", raising=False)
    assert LazyGuardLogic(tree).for_arch("x86").needs["XEN"] == {"PARAVIRT"}
    entries = list((tmp_path / "cache" / "kconfig").glob("*.json"))
    assert len(entries) == 1
    assert LazyGuardLogic(tree).for_arch("x86").needs["XEN"] == {"PARAVIRT"}      # from the cache
    kconfig = tree.root / "Kconfig"
    kconfig.write_text(kconfig.read_text().replace("\tdepends on PARAVIRT\n", "\tdepends on X86_32\n", 1))
    assert LazyGuardLogic(tree).for_arch("x86").needs["XEN"] == {"X86_32"}
    for entry in (tmp_path / "cache" / "kconfig").glob("*.json"):
        entry.write_text('{"kconfig": "x", "needs": {"XEN": ["$(shell,rm -rf /)"]}, "excludes": {}}')
    logic = LazyGuardLogic(tree)
    assert logic.for_arch("x86").needs["XEN"] == {"X86_32"}


def test_commits_that_share_their_kconfig_read_it_once(tree, tmp_path, monkeypatch):
    """A git revision's entry is also filed under the ids of its Kconfig blobs: a later commit
    that changed only code takes it without kconfiglib (1.6 s on 6.12); one that changed a
    Kconfig file reads it again."""
    import subprocess

    import pvscan.kconfig as kconfig
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.source.git import GitTree

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PVSCAN_NO_CACHE", raising=False)
    work = tree.root
    git = ["git", "-C", str(work), "-c", "user.email=t@example.org", "-c", "user.name=T"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    (work / "code.c").write_text("int x;\n")
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "code only"], check=True)
    kconfig_file = work / "Kconfig"
    kconfig_file.write_text(kconfig_file.read_text().replace("\tdepends on PARAVIRT\n", "\tdepends on X86_32\n", 1))
    subprocess.run(git + ["commit", "-qam", "Kconfig"], check=True)
    loads = []
    real_load = kconfig.load
    monkeypatch.setattr(kconfig, "load", lambda t, arch: loads.append(arch) or real_load(t, arch))

    def needs_of_xen(rev):
        revision = GitTree(str(work), rev)
        guards = LazyGuardLogic(revision)
        try:
            return guards.for_arch("x86").needs["XEN"]
        finally:
            guards.close()
            revision.close()

    assert needs_of_xen("HEAD~2") == {"PARAVIRT"} and len(loads) == 1
    assert needs_of_xen("HEAD~1") == {"PARAVIRT"} and len(loads) == 1      # same Kconfig blobs
    assert needs_of_xen("HEAD") == {"X86_32"} and len(loads) == 2           # a Kconfig changed


def test_a_kconfig_sourcing_by_glob_is_not_cached(tree, tmp_path, monkeypatch):
    # A new file could match the glob without any file read before changing.
    from pvscan.kconfig import LazyGuardLogic

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PVSCAN_NO_CACHE", raising=False)
    (tree.root / "drivers").mkdir()
    (tree.root / "drivers" / "Kconfig.a").write_text('config A\n\tbool "a"\n')
    kconfig = tree.root / "Kconfig"
    kconfig.write_text(kconfig.read_text() + 'source "drivers/Kconfig.*"\n')
    assert "A" in LazyGuardLogic(tree).for_arch("x86").needs
    assert not list((tmp_path / "cache").glob("kconfig/*.json"))


def _commit_all(work):
    import subprocess

    git = ["git", "-C", str(work), "-c", "user.email=t@example.org", "-c", "user.name=T"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)


def test_a_revisions_kconfig_read_in_memory_is_the_checkouts(tree, tmp_path, monkeypatch):
    """A git revision's Kconfig files are read from memory (copying 6.12's 1,813 out to disk
    took 0.6-0.9 s): what kconfiglib makes of them is what it makes of the same files on
    disk, 'source' by a glob, through '.' and '..', and of a hidden directory included."""
    from pvscan.kconfig import KconfigBlobs, LazyGuardLogic, load
    from pvscan.source.git import GitTree

    monkeypatch.setenv("PVSCAN_NO_CACHE", "1")
    for rel, text in {"drivers/a/Kconfig": 'config A\n\tbool "a"\n\tdepends on XEN\n',
                      "drivers/b/Kconfig": 'config B\n\tbool "b"\n\tselect A\n',
                      "drivers/.c/Kconfig": 'config C\n\tbool "c"\n\tdepends on D\n',
                      "lib/Kconfig.debug": 'config D\n\tbool "d"\n\tdepends on B\n'}.items():
        (tree.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree.root / rel).write_text(text)
    kconfig = tree.root / "Kconfig"
    kconfig.write_text(kconfig.read_text() + 'source "drivers/*/Kconfig"\nsource "drivers/./../lib/Kconfig.debug"\n'
                       'osource "drivers/.*/Kconfig"\nosource "nothing/*/Kconfig"\n')
    _commit_all(tree.root)
    revision = GitTree(str(tree.root), "HEAD")
    try:
        guards = LazyGuardLogic(revision)
        from_git = guards.for_arch("x86")
        assert isinstance(guards._files, KconfigBlobs)
        guards.close()
        assert guards._files is None
    finally:
        revision.close()
    on_disk = load(tree, "x86")
    assert from_git.problem is None and on_disk.problem is None
    assert from_git.needs == on_disk.needs and from_git.excludes == on_disk.excludes
    assert from_git.defaults == on_disk.defaults
    assert from_git.needs["A"] == {"XEN", "PARAVIRT"} and from_git.needs["D"] == {"B"}
    assert from_git.needs["C"] == {"D", "B"}          # sourced by 'drivers/.*/Kconfig' only


def test_a_revisions_kconfig_globs_as_glob_does_on_a_copy(tmp_path):
    import glob

    from pvscan.kconfig import KconfigBlobs

    rels = ["Kconfig", "arch/x86/Kconfig", "arch/x86/Kconfig.cpu", "arch/arm/Kconfig", "drivers/.hidden/Kconfig",
            "drivers/net/Kconfig", "drivers/net/wan/Kconfig", "odd dir/Kconfig", "x[1]/Kconfig"]
    for rel in rels:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    blobs = KconfigBlobs({rel: b"" for rel in rels})
    for pattern in ["Kconfig", "arch/*/Kconfig", "arch/x86/Kconfig*", "arch/x8?/Kconfig.[a-d]pu", "drivers/*/Kconfig",
                    "drivers/.*/Kconfig", "drivers/*/*/Kconfig", "arch", "arch/x86/../arm/Kconfig",
                    "./arch/./x86/Kconfig", "../Kconfig", "odd dir/Kconfig", "x[[]1]/Kconfig", "x[1]/Kconfig",
                    "nothing/*", "arch/x86/Kconfig/x", "*"]:
        on_disk = sorted(p[len(str(tmp_path)) + 1:] for p in glob.iglob(f"{tmp_path}/{pattern}"))
        in_memory = sorted(p[len(str(blobs.root)) + 1:] for p in blobs.glob(f"{blobs.root}/{pattern}"))
        if pattern == "../Kconfig":
            assert in_memory == []           # out of the revision: nothing of it is held
            continue
        assert in_memory == on_disk, pattern
    assert list(blobs.glob("/elsewhere/Kconfig")) == []


@pytest.mark.parametrize("hostile", ["escape", "fifo", "binary", "loop"])
def test_a_hostile_kconfig_is_one_warning_and_reads_nothing_outside(tree, tmp_path, hostile):
    import os

    from pvscan.kconfig import load

    kconfig = tree.root / "Kconfig"
    if hostile == "escape":
        kconfig.write_text('source "../../../../etc/passwd"\n')
    elif hostile == "fifo":
        kconfig.unlink()
        os.mkfifo(kconfig)
    elif hostile == "binary":
        kconfig.write_bytes(b"config A\n\x00\x01\x02")
    else:
        kconfig.write_text('source "Kconfig"\n')
    logic = load(tree, "x86")
    assert not logic.needs
    if hostile == "fifo":
        assert logic.problem is None     # not a regular file: no Kconfig, never waited on
    else:
        assert "could not be read" in logic.problem and "\n" not in logic.problem


def test_an_int_option_set_by_its_defaults_alone_takes_every_value_they_may_give(tree):
    # X86_64 and nothing said of X86_5LEVEL: 4 or 5. X86_32 rules out X86_64 (and so X86_5LEVEL):
    # 3 or 2, by X86_PAE. A default after one that surely holds is never reached.
    from pvscan.kconfig import load

    logic = load(tree, "x86")
    assert logic.defaults["PGTABLE_LEVELS"][:2] == ((5, "defined(CONFIG_X86_5LEVEL)"), (4, "defined(CONFIG_X86_64)"))
    assert "NR_CPUS" not in logic.defaults and "LEVELS_BY_MODULE" not in logic.defaults
    values = logic.values
    assert values({"CONFIG_X86_64": True}, ["PGTABLE_LEVELS"]) == {"CONFIG_PGTABLE_LEVELS": frozenset({4, 5})}
    assert values({"CONFIG_X86_64": True, "CONFIG_X86_5LEVEL": False}, ["PGTABLE_LEVELS"]) == {
        "CONFIG_PGTABLE_LEVELS": 4}
    assert values({"CONFIG_X86_32": True}, ["PGTABLE_LEVELS"]) == {"CONFIG_PGTABLE_LEVELS": frozenset({2, 3})}
    # What the ABI sets wins; what it does not ask for is not given.
    assert values({"CONFIG_PGTABLE_LEVELS": 3, "CONFIG_X86_64": True}, ["PGTABLE_LEVELS"]) == {}
    assert values({"CONFIG_X86_64": True}, ["NR_CPUS", "LEVELS_BY_MODULE"]) == {}


def test_a_guard_is_decided_under_a_set_of_values_only_when_each_decides_it_alike():
    from pvscan.facts.guards import evaluate

    config = {"CONFIG_PGTABLE_LEVELS": frozenset({4, 5}), "CONFIG_PARAVIRT": True}
    assert evaluate("CONFIG_PGTABLE_LEVELS >= 3 && CONFIG_PGTABLE_LEVELS >= 4", config) == (True, set())
    assert evaluate("CONFIG_PGTABLE_LEVELS == 3 || !defined(CONFIG_PARAVIRT)", config) == (False, set())
    assert evaluate("CONFIG_PGTABLE_LEVELS - 1 > 2", config) == (True, set())
    assert evaluate("defined(CONFIG_PGTABLE_LEVELS)", config) == (True, set())
    assert evaluate("CONFIG_PGTABLE_LEVELS >= 5", config) == (None, {"CONFIG_PGTABLE_LEVELS"})
    assert evaluate("CONFIG_PGTABLE_LEVELS >= 5 && defined(CONFIG_XEN)", config)[1] == {
        "CONFIG_PGTABLE_LEVELS", "CONFIG_XEN"}


def test_7_2_kconfig_syntax_is_read(tree):
    # 7.2's arch/Kconfig:953-957 'config CFI_CLANG / bool / transitional', and
    # drivers/usb/cdns3/Kconfig:5 'depends on USB if !USB_GADGET': kconfiglib 14.1 knows neither.
    # arch/x86/Kconfig:795-798: 'config PARAVIRT ... depends on HAVE_STATIC_CALL /
    # select HAVE_PV_STEAL_CLOCK_GEN', which kernel/sched/cputime.c's pv_steal_clock is under.
    from pvscan.kconfig import load

    (tree.root / "Kconfig").write_text(
        "config HAVE_STATIC_CALL\n\tbool \"static call\"\n\n"
        "config PARAVIRT\n\tbool \"pv\"\n\tdepends on HAVE_STATIC_CALL\n\tselect HAVE_PV_STEAL_CLOCK_GEN\n\n"
        "config HAVE_PV_STEAL_CLOCK_GEN\n\tbool\n\n"
        "config CFI_CLANG\n\tbool\n\ttransitional\n\thelp\n\t  Transitional config.\n\n"
        "config USB\n\tbool \"usb\"\n\nconfig USB_GADGET\n\tbool \"gadget\"\n\n"
        "config CDNS3\n\tbool \"cdns3\"\n\tdepends on USB if !USB_GADGET\n")
    logic = load(tree, "x86")
    assert logic.problem is None and logic.notes == ()
    assert logic.complete({"CONFIG_PARAVIRT": True}, ["HAVE_PV_STEAL_CLOCK_GEN"]) == {
        "CONFIG_HAVE_PV_STEAL_CLOCK_GEN": True}
    # 'depends on USB if !USB_GADGET' is 'depends on USB || USB_GADGET': neither alone is needed.
    assert "USB" not in logic.needs.get("CDNS3", ()) and "USB_GADGET" not in logic.needs.get("CDNS3", ())


def test_a_line_no_version_knows_is_skipped_with_a_note(tree):
    from pvscan.kconfig import load

    (tree.root / "Kconfig").write_text("config A\n\tbool \"a\"\n\tfrobnicate everything\n\n"
                                       "config B\n\tbool \"b\"\n\tdepends on A\n")
    logic = load(tree, "x86")
    assert logic.problem is None
    assert logic.notes == ("Kconfig:3: kconfiglib cannot parse 'frobnicate everything'; that line is skipped",)
    assert logic.needs["B"] == frozenset({"A"})


def test_a_dependency_loop_is_a_note_as_in_the_kernels_kconfig(tree):
    # 2.6.22's arch/i386/Kconfig: :96 SMP; in the subarchitecture choice (:125), :154 X86_NUMAQ
    # 'select SMP' and :175 X86_BIGSMP 'depends on SMP': a loop through the choice, which
    # scripts/kconfig warns of and reads on, where kconfiglib stops.
    from pvscan.kconfig import load

    (tree.root / "Kconfig").write_text("config SMP\n\tbool \"smp\"\n\tdepends on !X86_NUMAQ\n\n"
                                       "config X86_NUMAQ\n\tbool \"numaq\"\n\tdepends on SMP\n\n"
                                       "config PARAVIRT\n\tbool \"pv\"\n\tdepends on !X86_NUMAQ\n")
    logic = load(tree, "x86")
    assert logic.problem is None
    (note,) = logic.notes
    assert note.startswith("dependency loop ") and "SMP" in note and "X86_NUMAQ" in note
    assert logic.excludes["PARAVIRT"] == frozenset({"X86_NUMAQ"})
