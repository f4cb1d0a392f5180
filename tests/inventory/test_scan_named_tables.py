"""The 7.x generation: pv_ops beside pv_ops_lock, PVOP_*(table, op), and the paravirt static
calls of every architecture (fixtures/gen4-named, our own minimal 7.x-shaped tree)."""

import dataclasses
import json
import subprocess
import sys

from conftest import fixture_tree, impls, op


def test_each_table_is_read_from_its_declaration(gen4):
    tables = {t.name: t for t in gen4.inventory.tables}
    assert set(tables) == {"pv_ops", "pv_ops_lock"}
    assert (tables["pv_ops_lock"].type, tables["pv_ops_lock"].file) == (
        "pv_lock_ops", "arch/x86/include/asm/paravirt-spinlock.h")
    assert {t.generation for t in tables.values()} == {"named"}
    assert tables["pv_ops"].groups == ("cpu", "mmu")


def test_the_generation_says_tables_and_call_form(gen4):
    (x86,) = [g for g in gen4.inventory.generations if g.arch == "x86"]
    assert x86.describe() == "pv_ops, pv_ops_lock; PVOP_*(table, op); static calls pv_sched_clock"


def test_lock_ops_are_named_by_their_table(gen4):
    assert {o.name for o in gen4.inventory.ops if o.table == "pv_ops_lock"} == {
        "pv_ops_lock.queued_spin_lock_slowpath", "pv_ops_lock.queued_spin_unlock", "pv_ops_lock.kick"}
    assert op(gen4, "pv_ops_lock.queued_spin_unlock").convention == "callee_save"


def test_a_call_naming_its_table_is_a_call_site(gen4):
    (site,) = op(gen4, "pv_ops_lock.kick").call_sites
    assert (site.kind, site.arity, site.function) == ("PVOP_VCALL1", 1, "pv_kick")
    (site,) = op(gen4, "cpu.read_cr0").call_sites
    assert (site.kind, site.return_type, site.function) == ("PVOP_CALL0", "unsigned long", "read_cr0")
    # 'PVOP_ALT_VCALLEE1(pv_ops_lock, queued_spin_unlock, lock, "movb ...", ALT_NOT(...))'
    (callee,) = [c for c in op(gen4, "pv_ops_lock.queued_spin_unlock").call_sites if c.kind != "read"]
    assert (callee.kind, callee.arity, callee.alt_condition) == (
        "PVOP_ALT_VCALLEE1", 1, "ALT_NOT(X86_FEATURE_PVUNLOCK)")
    assert op(gen4, "pv_ops_lock.queued_spin_unlock").return_type == "void"


def test_lock_table_fills_by_assignment_and_initializer(gen4):
    assert impls(op(gen4, "pv_ops_lock.kick")) == [
        ("kvm", "kvm_kick_cpu"), ("native", "paravirt_nop"), ("xen", "xen_qlock_kick")]


def test_a_static_call_is_an_op_with_the_type_of_its_default(gen4):
    sched = op(gen4, "pv_sched_clock")
    assert (sched.convention, sched.table, sched.file, sched.line) == (
        "static_call", "static_call", "arch/x86/kernel/tsc.c", 6)
    assert (sched.return_type, sched.params, sched.guard) == ("u64", (), "defined(CONFIG_PARAVIRT)")
    steal = op(gen4, "pv_steal_clock", arch="generic")
    assert (steal.return_type, [p.type for p in steal.params]) == ("u64", ["int"])


def test_static_call_sites_and_wrappers(gen4):
    sched = op(gen4, "pv_sched_clock")
    assert [(c.kind, c.function) for c in sched.call_sites] == [
        ("static_call", "sched_clock_noinstr"), ("read", "using_native_sched_clock")]
    assert [w.name for w in sched.wrappers] == ["sched_clock_noinstr"]
    steal = op(gen4, "pv_steal_clock", arch="generic")
    assert [(w.name, w.file, w.callers) for w in steal.wrappers] == [
        ("paravirt_steal_clock", "include/linux/sched/cputime.h", 1)]


def test_static_call_installs_are_implementations_of_each_backend(gen4):
    # static_call_update(pv_x, f) directly, and through the x86 installer
    # paravirt_set_sched_clock(func), whose body passes its parameter on.
    assert sorted((i.backend, i.function, i.file, i.via) for i in op(gen4, "pv_sched_clock").implementations) == [
        ("hyperv", "read_hv_sched_clock_tsc", "drivers/clocksource/hyperv_timer.c",
         "installer paravirt_set_sched_clock"),
        ("kvm", "kvm_sched_clock_read", "arch/x86/kernel/kvmclock.c", "installer paravirt_set_sched_clock"),
        ("native", "native_sched_clock", "arch/x86/kernel/tsc.c", "static call default"),
        ("xen", "xen_sched_clock", "arch/x86/xen/time.c", "installer paravirt_set_sched_clock"),
    ]
    steal = op(gen4, "pv_steal_clock", arch="generic")
    assert sorted((i.backend, i.file) for i in steal.implementations) == [
        ("kvm", "arch/arm64/kernel/paravirt.c"), ("kvm", "arch/riscv/kernel/paravirt.c"),
        ("kvm", "arch/x86/kernel/kvm.c"), ("native", "kernel/sched/cputime.c"),
        ("xen", "arch/x86/xen/time.c"), ("xen", "drivers/xen/time.c")]


def test_a_generic_static_call_as_one_architecture_has_it(gen4):
    from pvscan.identity import ops_for_arch

    (steal,) = [o for o in ops_for_arch(gen4.inventory.ops, "x86", gen4.inventory.homes)
                if o.name == "pv_steal_clock"]
    assert sorted({i.file for i in steal.implementations}) == [
        "arch/x86/kernel/kvm.c", "arch/x86/xen/time.c", "drivers/xen/time.c", "kernel/sched/cputime.c"]
    # The fixture has arch/x86/xen and no arch/arm64/xen: drivers/xen/time.c is not built for arm64.
    (steal,) = [o for o in ops_for_arch(gen4.inventory.ops, "arm64", gen4.inventory.homes)
                if o.name == "pv_steal_clock"]
    assert sorted({(i.backend, i.file) for i in steal.implementations}) == [
        ("kvm", "arch/arm64/kernel/paravirt.c"), ("native", "kernel/sched/cputime.c")]


def test_every_pvop_use_is_placed(gen4):
    assert not [w for w in gen4.warnings if "PVOP_" in w.message]


def test_a_pvop_use_that_names_no_op_is_said(tmp_path):
    import shutil

    from pvscan.pipeline import scan

    tree = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen4-named"), tree)
    header = tree / "arch/x86/include/asm/paravirt.h"
    header.write_text(header.read_text().replace(
        "PVOP_VCALL0(pv_ops, mmu.flush_tlb_user);", "PVOP_VCALL0(pv_ops_mmu, flush_tlb_user);"))
    result = scan(tree, jobs=1)
    (said,) = [w for w in result.warnings if "PVOP_" in w.message]
    assert said.path == "arch/x86/include/asm/paravirt.h" and said.line == 11
    assert result.inventory.blind == (said,)
    assert "1 PVOP_* use(s) name no op" in said.message and "PVOP_VCALL0(pv_ops_mmu, flush_tlb_user)" in said.message
    proc = subprocess.run([sys.executable, "-m", "pvscan", "scan", str(tree)], capture_output=True, text=True)
    # Never 0 blind: the inventory may miss what that use calls.
    assert proc.returncode == 1 and "name no op this scan found" in proc.stderr
    # check counts it as a warning for --fail-on; history as a revision it could not read whole.
    check = [sys.executable, "-m", "pvscan", "check", str(tree), "--abi", "kvm"]
    assert subprocess.run(check + ["--fail-on", "warning"], capture_output=True).returncode == 1
    assert subprocess.run(check + ["--fail-on", "never"], capture_output=True).returncode == 0
    history = subprocess.run([sys.executable, "-m", "pvscan", "history", str(fixture_tree("gen3-unified")), str(tree)],
                             capture_output=True, text=True)
    assert history.returncode == 1 and "name no op this scan found" in history.stderr


def test_json_carries_the_generation(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pvscan", "scan", str(fixture_tree("gen4-named")),
                           "--format", "json"], capture_output=True, text=True)
    doc = json.loads(proc.stdout)
    assert {g["arch"]: g["describe"] for g in doc["generations"]} == {
        "generic": "pv_steal_clock",
        "x86": "pv_ops, pv_ops_lock; PVOP_*(table, op); static calls pv_sched_clock"}


def test_names_of_other_generations_reach_the_7x_ops(gen4):
    from pvscan.identity import OpIndex, ops_for_arch

    index = OpIndex(ops_for_arch(gen4.inventory.ops, "x86"))
    assert index.find("lock.kick")[0].name == "pv_ops_lock.kick"
    assert index.find("pv_lock_ops.kick")[0].name == "pv_ops_lock.kick"
    assert index.find("time.steal_clock")[0].name == "pv_steal_clock"
    assert index.find("pv_time_ops.sched_clock")[0].name == "pv_sched_clock"
    assert dataclasses.is_dataclass(index.find("pv_steal_clock")[0])


def test_a_static_call_no_file_defines_is_said(tmp_path):
    import shutil

    from pvscan.pipeline import scan

    tree = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen4-named"), tree)
    (tree / "arch/x86/kernel/kvm.c").write_text(
        (tree / "arch/x86/kernel/kvm.c").read_text().replace("pv_steal_clock", "pv_stolen_time"))
    result = scan(tree, jobs=1)
    (said,) = result.inventory.blind
    assert (said.path, said.line) == ("arch/x86/kernel/kvm.c", 8)
    assert "update of static call pv_stolen_time, which no scanned file defines" in said.message


def test_history_follows_the_lock_ops_into_pv_ops_lock(tmp_path):
    # fixtures/gen3-unified (6.x: 'struct paravirt_patch_template { ... struct pv_lock_ops lock; }')
    # then fixtures/gen4-named (7.x: 'struct pv_lock_ops pv_ops_lock'): the lock ops moved.
    from pvscan.history.lineage import history_of
    from pvscan.history.run import RevisionSpec, scan_revision

    specs = [RevisionSpec(n, "tree", str(fixture_tree(n)), None) for n in ("gen3-unified", "gen4-named")]
    doc = history_of([scan_revision(s) for s in specs], [])
    kick = [e for lin in doc.lineages if lin.identity == "x86:lock.kick" for e in doc.events[lin.identity]]
    # gen4's lock table is outside '#ifdef CONFIG_PARAVIRT' (gen3's is inside), and xen fills it there.
    assert [(e.kind, e.detail) for e in kick if e.revision == 1] == [
        ("moved", "lock.kick -> pv_ops_lock.kick (by generation)"),
        ("guard", "defined(CONFIG_PARAVIRT) -> (unconditional)"), ("backends", "+xen")]
    assert not [e for lin in doc.lineages for e in doc.events[lin.identity]
                if e.kind == "removed" and lin.identity in ("x86:lock.kick", "x86:lock.queued_spin_unlock")]


def test_one_architecture_keeps_the_generic_static_calls(tmp_path):
    # 'pvscan scan --arch x86' of a 7.x tree: pv_steal_clock, defined in kernel/sched/cputime.c, is
    # in every architecture's kernel, x86's too.
    proc = subprocess.run([sys.executable, "-m", "pvscan", "scan", str(fixture_tree("gen4-named")), "--arch", "x86",
                           "--format", "json"], capture_output=True, text=True)
    names = {(o["arch"], o["name"]) for o in json.loads(proc.stdout)["ops"]}
    assert ("generic", "pv_steal_clock") in names and ("x86", "pv_sched_clock") in names
