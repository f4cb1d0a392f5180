"""Facts about Debian's linux-source-6.1 and linux-source-6.12, checked by reading those trees.

Every assertion here was verified by hand in the source (the file and line
are named in the test); none is copied from pvscan's output.
"""

import pytest
from conftest import functions, impls, kernel_path, op

pytestmark = pytest.mark.kernel


def group_counts(result):
    """Ops per group of the tables (the static calls are counted apart: static_calls)."""
    counts = {}
    for o in result.inventory.ops:
        if o.convention != "static_call":
            counts[o.group] = counts.get(o.group, 0) + 1
    return counts


def static_calls(result):
    """{(arch, name): the file and line of its DEFINE_STATIC_CALL}."""
    return {(o.arch, o.name): (o.file, o.line) for o in result.inventory.ops if o.convention == "static_call"}


# arch/x86/include/asm/paravirt_types.h: struct pv_cpu_ops has 30 members that are
# ops, pv_irq_ops 5, pv_lock_ops 5; pv_mmu_ops 44 in 6.1 and 43 in 6.12, where
# activate_mm and dup_mmap became enter_mmap.
def test_6_1_group_sizes(linux_6_1):
    assert group_counts(linux_6_1) == {"cpu": 30, "irq": 5, "lock": 5, "mmu": 44}
    # arch/x86/kernel/paravirt.c:128-129 pv_steal_clock and pv_sched_clock; arm's (:23) and arm64's (:35)
    # paravirt.c pv_steal_clock; 6.1's riscv and loongarch define none.
    assert sorted(static_calls(linux_6_1)) == [("arm", "pv_steal_clock"), ("arm64", "pv_steal_clock"),
                                                ("x86", "pv_sched_clock"), ("x86", "pv_steal_clock")]


def test_6_12_group_sizes(linux_6_12):
    assert group_counts(linux_6_12) == {"cpu": 30, "irq": 5, "lock": 5, "mmu": 43}


def test_6_12_replaced_activate_mm_and_dup_mmap_with_enter_mmap(linux_6_1, linux_6_12):
    old = {o.name for o in linux_6_1.inventory.ops}
    new = {o.name for o in linux_6_12.inventory.ops}
    assert {"mmu.activate_mm", "mmu.dup_mmap"} <= old - new
    assert new - old == {"mmu.enter_mmap"}


def test_tables_are_pv_ops_and_data_only_pv_info(linux_6_12):
    tables = {t.name: t for t in linux_6_12.inventory.tables}
    assert set(tables) == {"pv_ops", "pv_info"}
    assert (tables["pv_ops"].type, tables["pv_ops"].generation) == ("paravirt_patch_template", "unified")
    assert tables["pv_info"].ops == 0


def test_6_12_headers_wrap_everything_in_config_paravirt(linux_6_1, linux_6_12):
    # 6.12 paravirt_types.h line 5 opens '#ifdef CONFIG_PARAVIRT'; 6.1's does not.
    assert op(linux_6_12, "mmu.flush_tlb_user").guard == "defined(CONFIG_PARAVIRT)"
    assert op(linux_6_1, "mmu.flush_tlb_user").guard is None


def test_guards_of_nested_conditionals(linux_6_12):
    assert op(linux_6_12, "cpu.update_io_bitmap").guard == \
        "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL) && defined(CONFIG_X86_IOPL_IOPERM)"
    assert op(linux_6_12, "mmu.set_pgd").guard == \
        "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL) && CONFIG_PGTABLE_LEVELS >= 5"
    assert op(linux_6_12, "mmu.lazy_mode.enter").guard == \
        "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)"


def test_signatures_and_conventions(linux_6_12):
    o = op(linux_6_12, "mmu.set_fixmap")
    assert [(p.type, p.name) for p in o.params] == [("unsigned", "idx"), ("phys_addr_t", "phys"),
                                                    ("pgprot_t", "flags")]
    assert op(linux_6_12, "cpu.read_msr_safe").return_type == "u64"
    assert op(linux_6_12, "lock.vcpu_is_preempted").convention == "callee_save"
    # paravirt.h: PVOP_ALT_CALLEE1(bool, lock.vcpu_is_preempted, cpu, ...)
    assert op(linux_6_12, "lock.vcpu_is_preempted").return_type == "bool"


def test_alt_call_sites(linux_6_12):
    # paravirt.h:175 PVOP_ALT_VCALL1(mmu.write_cr3, x, "mov %%rdi, %%cr3", ALT_NOT_XEN);
    (site,) = op(linux_6_12, "mmu.write_cr3").call_sites
    assert (site.file, site.line, site.kind, site.function) == \
        ("arch/x86/include/asm/paravirt.h", 175, "PVOP_ALT_VCALL1", "write_cr3")
    assert site.alt_condition == "ALT_NOT_XEN"
    # paravirt.h:589 ALT_NOT(X86_FEATURE_PVUNLOCK) for queued_spin_unlock
    unlock = [c for c in op(linux_6_12, "lock.queued_spin_unlock").call_sites if c.kind.startswith("PVOP")]
    assert [c.alt_condition for c in unlock] == ["ALT_NOT(X86_FEATURE_PVUNLOCK)"]


def test_io_delay_sites_in_slow_down_io(linux_6_12):
    # paravirt.h:59-63: one unconditional, three under REALLY_SLOW_IO
    sites = op(linux_6_12, "cpu.io_delay").call_sites
    assert [(c.line, c.function) for c in sites] == [(59, "slow_down_io"), (61, "slow_down_io"),
                                                     (62, "slow_down_io"), (63, "slow_down_io")]


def test_direct_call_and_reads(linux_6_12):
    # paravirt.h:575 pv_ops.mmu.set_fixmap(idx, phys, flags); in __set_fixmap
    assert [(c.kind, c.function) for c in op(linux_6_12, "mmu.set_fixmap").call_sites] == [("call", "__set_fixmap")]
    # paravirt-spinlocks.c:32 reads pv_ops.lock.vcpu_is_preempted.func
    reads = [c for c in op(linux_6_12, "lock.vcpu_is_preempted").call_sites if c.kind == "read"]
    assert [(c.file, c.line) for c in reads] == [("arch/x86/kernel/paravirt-spinlocks.c", 32)]


def test_xen_mmu(linux_6_12):
    # mmu_pv.c: 2154 'pv_ops.mmu.set_pte = xen_set_pte;', 1266 '__xen_set_pte',
    # and '.set_pte = xen_set_pte_init' in xen_mmu_ops.
    assert functions(op(linux_6_12, "mmu.set_pte"), "xen") == ["__xen_set_pte", "xen_set_pte", "xen_set_pte_init"]
    assert functions(op(linux_6_12, "mmu.set_pte"), "native") == ["native_set_pte"]
    # mmu_pv.c:2169 'pv_ops.mmu.write_cr3 = &xen_write_cr3;'
    assert functions(op(linux_6_12, "mmu.write_cr3"), "xen") == ["xen_write_cr3", "xen_write_cr3_init"]
    # The first entry after '#if CONFIG_PGTABLE_LEVELS >= 5' in xen_mmu_ops.
    assert functions(op(linux_6_12, "mmu.p4d_val"), "xen") == ["xen_p4d_val"]


def test_xen_mmu_copy_leaves_what_it_omits_null(linux_6_12):
    # xen_mmu_ops names neither set_pgd, alloc_p4d, release_p4d nor
    # notify_page_enc_status_changed, and mmu_pv.c:2249 copies the whole group.
    cleared = sorted(o.name for o in linux_6_12.inventory.ops if any(c.backend == "xen" for c in o.cleared_by))
    assert cleared == ["mmu.alloc_p4d", "mmu.notify_page_enc_status_changed", "mmu.release_p4d", "mmu.set_pgd"]


def test_xen_cpu_ops_first_entry_after_ifdef(linux_6_12):
    # enlighten_pv.c: '.invalidate_io_bitmap = xen_invalidate_io_bitmap' right after
    # '#ifdef CONFIG_X86_IOPL_IOPERM' inside '.cpu = { ... }' of a typeof(pv_ops).
    assert functions(op(linux_6_12, "cpu.invalidate_io_bitmap"), "xen") == ["xen_invalidate_io_bitmap"]
    assert functions(op(linux_6_12, "cpu.invalidate_io_bitmap"), "native") == ["native_tss_invalidate_io_bitmap"]


def test_xen_irq_ops_callee_save(linux_6_12):
    # irq.c: '.save_fl = __PV_IS_CALLEE_SAVE(paravirt_ret0)'; enlighten_pv.c:1210
    # later installs xen_save_fl_direct.
    assert functions(op(linux_6_12, "irq.save_fl"), "xen") == ["paravirt_ret0", "xen_save_fl_direct"]


def test_native_spinlock_ops_after_nested_ifdefs(linux_6_12):
    (i,) = [i for i in op(linux_6_12, "lock.queued_spin_lock_slowpath").implementations if i.backend == "native"]
    assert i.function == "native_queued_spin_lock_slowpath"
    assert i.guard == "defined(CONFIG_PARAVIRT_SPINLOCKS) && defined(CONFIG_SMP)"


def test_other_backends(linux_6_12):
    # kvm.c:856 and :984, tdx.c:1078-1079, vmware.c:341, hv_spinlock.c:85
    assert functions(op(linux_6_12, "lock.vcpu_is_preempted"), "kvm") == ["__kvm_vcpu_is_preempted"]
    assert functions(op(linux_6_12, "lock.vcpu_is_preempted"), "hyperv") == ["hv_vcpu_is_preempted"]
    assert functions(op(linux_6_12, "lock.vcpu_is_preempted"), "xen") == ["xen_vcpu_stolen"]
    assert functions(op(linux_6_12, "mmu.notify_page_enc_status_changed"), "kvm") == ["kvm_sev_hc_page_enc_status"]
    assert functions(op(linux_6_12, "irq.safe_halt"), "tdx") == ["tdx_safe_halt"]
    assert functions(op(linux_6_12, "cpu.io_delay"), "vmware") == ["paravirt_nop"]


def test_native_load_gs_index_from_gsseg_header(linux_6_12):
    # gsseg.h:48 under '#ifdef CONFIG_PARAVIRT_XXL' and '#ifdef CONFIG_X86_64'
    (i,) = [i for i in op(linux_6_12, "cpu.load_gs_index").implementations if i.function == "native_lkgs"]
    assert (i.backend, i.file, i.line) == ("native", "arch/x86/include/asm/gsseg.h", 48)
    assert i.guard == "defined(CONFIG_PARAVIRT_XXL) && defined(CONFIG_X86_64)"


def test_6_1_casts_and_aliases_in_the_native_table(linux_6_1):
    # paravirt.c: '.mmu.tlb_remove_table = (void (*)(struct mmu_gather *, void *))tlb_remove_page'
    assert functions(op(linux_6_1, "mmu.tlb_remove_table"), "native") == ["tlb_remove_page"]
    # '#define PTE_IDENT __PV_IS_CALLEE_SAVE(_paravirt_ident_64)', '.mmu.pmd_val = PTE_IDENT'
    (i,) = [i for i in op(linux_6_1, "mmu.pmd_val").implementations if i.backend == "native"]
    assert (i.function, i.wrapped_by) == ("_paravirt_ident_64", ("PTE_IDENT", "__PV_IS_CALLEE_SAVE"))


def test_6_1_xen_mmu_ops(linux_6_1):
    # mmu_pv.c (6.1): '.activate_mm = xen_activate_mm', '.dup_mmap = xen_dup_mmap',
    # '.lazy_mode.enter = paravirt_enter_lazy_mmu' (6.12: xen_enter_lazy_mmu)
    assert functions(op(linux_6_1, "mmu.activate_mm"), "xen") == ["xen_activate_mm"]
    assert functions(op(linux_6_1, "mmu.dup_mmap"), "xen") == ["xen_dup_mmap"]
    assert functions(op(linux_6_1, "mmu.lazy_mode.enter"), "xen") == ["paravirt_enter_lazy_mmu"]


def test_every_op_has_a_native_implementation(linux_6_1, linux_6_12):
    for result in (linux_6_1, linux_6_12):
        missing = [o.name for o in result.inventory.ops if "native" not in o.backends]
        assert missing == []


def test_wrappers_and_callers(linux_6_12):
    # paravirt.h:434 'static inline void set_pte(pte_t *ptep, pte_t pte)'
    (w,) = op(linux_6_12, "mmu.set_pte").wrappers
    assert (w.name, w.file, w.line) == ("set_pte", "arch/x86/include/asm/paravirt.h", 434)
    callers = linux_6_12.callers[("x86", "set_pte")]
    # arch/x86/mm/init_64.c calls set_pte() in set_pte_vaddr_p4d's helpers; no
    # other architecture's directory is counted.
    assert any(c.path == "arch/x86/mm/init_64.c" for c in callers)
    assert not any(c.path.startswith("arch/") and not c.path.startswith("arch/x86/") for c in callers)


def test_no_warnings_on_real_trees(linux_6_1, linux_6_12):
    assert linux_6_1.warnings == () and linux_6_12.warnings == ()


def test_a_long_scan_shows_progress_on_a_terminal_and_nowhere_else(tmp_path):
    """On a terminal a whole-tree scan (over a second) draws one progress line and erases it; piped, nothing."""
    import os
    import re
    import shutil
    import subprocess
    import sys

    from conftest import kernel_path

    if not shutil.which("script"):
        pytest.skip("script(1) is needed to give pvscan a terminal")
    tree = kernel_path("6.12")
    out = tmp_path / "scan.json"
    cmd = f"{sys.executable} -m pvscan scan {tree} --format json -o {out}"
    env = {**os.environ, "PVSCAN_CACHE_DIR": str(tmp_path / "cache")}
    # Bytes: text mode would turn each '\r' into a newline.
    screen = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, env=env).stdout.decode()
    assert "\rpvscan: parsing" in screen or "\rpvscan: reading the wrappers' callers in" in screen
    assert re.search(r"\r {10,}\r\s*$", screen), "the progress line is erased at the end"
    piped = subprocess.run(cmd.split(), capture_output=True, text=True, env=env)
    assert piped.returncode == 0 and piped.stderr == ""


def test_asm_site_in_an_assembler_macro(linux_6_12):
    # paravirt.h:738-741: '.macro PARA_IRQ_save_fl ... call PARA_INDIRECT(pv_ops+PV_IRQ_save_fl)',
    # and asm-offsets_64.c:17 makes OFFSET(PV_IRQ_save_fl, paravirt_patch_template, irq.save_fl).
    o = op(linux_6_12, "irq.save_fl")
    assert ("arch/x86/include/asm/paravirt.h", 740, "asm", "PARA_IRQ_save_fl") in [
        (c.file, c.line, c.kind, c.function) for c in o.call_sites]


def test_a_cold_scan_of_6_12_finds_every_caller_in_its_one_search(tmp_path, monkeypatch):
    # Every call through pv_ops in 6.12 is in arch/x86/include/asm/paravirt.h: its 97 PVOP_*CALL*
    # lines and 'call PARA_INDIRECT(pv_ops+PV_IRQ_save_fl)' in '.macro PARA_IRQ_save_fl' (740),
    # and no other .c or .h file holds a PVOP_*CALL or a 'pv_ops.x.y(' call. The guess read from
    # the headers before the search so names every wrapper, the asm macro included.
    from conftest import kernel_path

    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    tree = KernelTree(kernel_path("6.12"))
    result = scan(tree)
    names = {w.name for o in result.inventory.ops for w in o.wrappers}
    # The static calls are called through wrappers of their own: paravirt_steal_clock() in each
    # architecture's asm/paravirt.h (arm, arm64 and riscv :16, loongarch :15, x86 :47) and x86's
    # paravirt_sched_clock() (:33).
    assert {w.file for o in result.inventory.ops for w in o.wrappers} == {
        f"arch/{a}/include/asm/paravirt.h" for a in ("x86", "arm", "arm64", "riscv", "loongarch")}
    assert "PARA_IRQ_save_fl" in names and "set_pte" in names
    assert names <= tree.searched_wrappers


# -- 6.12's paravirt static calls (5.12 on) -------------------------------------------------------

@pytest.mark.kernel
def test_6_12_static_calls_are_defined_per_architecture(linux_6_12):
    # DEFINE_STATIC_CALL(pv_steal_clock, native_steal_clock) in arch/{x86,arm,arm64,riscv,loongarch}/
    # kernel/paravirt.c (x86:75, arm:23, arm64:35, riscv:33, loongarch:23), pv_sched_clock in x86's (:76).
    assert static_calls(linux_6_12) == {
        ("x86", "pv_steal_clock"): ("arch/x86/kernel/paravirt.c", 75),
        ("x86", "pv_sched_clock"): ("arch/x86/kernel/paravirt.c", 76),
        ("arm", "pv_steal_clock"): ("arch/arm/kernel/paravirt.c", 23),
        ("arm64", "pv_steal_clock"): ("arch/arm64/kernel/paravirt.c", 35),
        ("riscv", "pv_steal_clock"): ("arch/riscv/kernel/paravirt.c", 33),
        ("loongarch", "pv_steal_clock"): ("arch/loongarch/kernel/paravirt.c", 23),
    }


def installs(result):
    """{(arch, static call, file, line, function)} of every backend's install (not the default)."""
    return {(o.arch, o.name, i.file, i.line, i.function) for o in result.inventory.ops
            if o.convention == "static_call" for i in o.implementations if i.via != "static call default"}


@pytest.mark.kernel
def test_6_12_static_call_installs(linux_6_12):
    # Read in 6.12: static_call_update(pv_steal_clock, ...) in riscv paravirt.c:126, loongarch
    # paravirt.c:314, arm64 paravirt.c:167, x86 kvm.c:854, cpu/vmware.c:353, xen/time.c:566 and
    # drivers/xen/time.c:179 (built for every architecture Xen runs on, so each one's op);
    # paravirt_set_sched_clock(fn), whose body (x86 paravirt.c:78-81) installs its parameter, in
    # kvmclock.c:99, vmware.c:349, xen/time.c:567 and hyperv_timer.c:603 (through
    # hv_setup_sched_clock(read_hv_sched_clock_tsc), whose parameter it passes on at :540).
    found = installs(linux_6_12)
    x86 = {(n, f, line, fn) for a, n, f, line, fn in found if a == "x86"}
    assert x86 == {
        ("pv_steal_clock", "arch/x86/kernel/kvm.c", 854, "kvm_steal_clock"),
        ("pv_steal_clock", "arch/x86/kernel/cpu/vmware.c", 353, "vmware_steal_clock"),
        ("pv_steal_clock", "arch/x86/xen/time.c", 566, "xen_steal_clock"),
        ("pv_steal_clock", "drivers/xen/time.c", 179, "xen_steal_clock"),
        ("pv_sched_clock", "arch/x86/kernel/kvmclock.c", 99, "kvm_sched_clock_read"),
        ("pv_sched_clock", "arch/x86/kernel/cpu/vmware.c", 349, "vmware_sched_clock"),
        ("pv_sched_clock", "arch/x86/xen/time.c", 567, "xen_sched_clock"),
        ("pv_sched_clock", "drivers/clocksource/hyperv_timer.c", 603, "read_hv_sched_clock_tsc"),
    }
    assert ("riscv", "pv_steal_clock", "arch/riscv/kernel/paravirt.c", 126, "pv_time_steal_clock") in found
    assert ("loongarch", "pv_steal_clock", "arch/loongarch/kernel/paravirt.c", 314, "paravt_steal_clock") in found
    assert ("arm64", "pv_steal_clock", "arch/arm64/kernel/paravirt.c", 167, "para_steal_clock") in found
    # The 11 installs of the tree, each counted once whatever architectures it is built for.
    assert len({(f, line) for _a, _n, f, line, _fn in found}) == 11
    backends = {(o.arch, i.file, i.line): i.backend for o in linux_6_12.inventory.ops for i in o.implementations
                if o.convention == "static_call"}
    assert backends[("x86", "drivers/clocksource/hyperv_timer.c", 603)] == "hyperv"
    assert backends[("x86", "arch/x86/kernel/cpu/vmware.c", 353)] == "vmware"
    # drivers/xen/time.c is built where Xen is, and the tree has arch/x86/xen, arch/arm/xen and
    # arch/arm64/xen, no arch/riscv/xen or arch/loongarch/xen.
    xen = sorted(a for a, n, f, _line, _fn in found if f == "drivers/xen/time.c")
    assert xen == ["arm", "arm64", "x86"]
    # riscv's paravirt.c: the default native (:33), the SBI steal-time install KVM's (:126).
    assert backends[("riscv", "arch/riscv/kernel/paravirt.c", 33)] == "native"
    assert backends[("riscv", "arch/riscv/kernel/paravirt.c", 126)] == "kvm"


# -- 7.2: the fourth generation --------------------------------------------------------------------

@pytest.mark.kernel
def test_7_2_has_pv_ops_and_pv_ops_lock(linux_7_2):
    # paravirt_types.h:179-185 'struct paravirt_patch_template { cpu; irq; mmu; }' 'extern ... pv_ops';
    # paravirt-spinlock.h:13-23 'struct pv_lock_ops { queued_spin_lock_slowpath, queued_spin_unlock,
    # wait, kick, vcpu_is_preempted }' 'extern struct pv_lock_ops pv_ops_lock'.
    tables = {t.name: t for t in linux_7_2.inventory.tables if t.ops}
    assert {n: (t.ops, t.generation) for n, t in tables.items()} == {
        "pv_ops": (73, "named"), "pv_ops_lock": (5, "named")}
    assert group_counts(linux_7_2) == {"cpu": 28, "irq": 5, "mmu": 40, "pv_ops_lock": 5}
    (x86,) = [g for g in linux_7_2.inventory.generations if g.arch == "x86"]
    assert x86.describe() == "pv_ops, pv_ops_lock; PVOP_*(table, op); static calls pv_sched_clock"


@pytest.mark.kernel
def test_7_2_every_op_has_a_call_site(linux_7_2):
    # Every PVOP_* use names its table first ('PVOP_VCALL1(pv_ops_lock, kick, cpu)',
    # paravirt-spinlock.h:88); with 'pv_ops.mmu.set_fixmap(...)' (paravirt.h:501) they reach all 78.
    table_ops = [o for o in linux_7_2.inventory.ops if o.convention != "static_call"]
    assert len(table_ops) == 78
    assert not [o.name for o in table_ops if not any(c.kind != "read" for c in o.call_sites)]
    kick = op(linux_7_2, "pv_ops_lock.kick")
    assert [(c.file, c.line, c.kind, c.function) for c in kick.call_sites] == [
        ("arch/x86/include/asm/paravirt-spinlock.h", 88, "PVOP_VCALL1", "pv_kick")]
    assert not linux_7_2.inventory.blind


@pytest.mark.kernel
def test_7_2_lock_table_backends(linux_7_2):
    # hv_spinlock.c:84, kvm.c:1169, xen/spinlock.c:141, paravirt-spinlocks.c:55 (the native table).
    assert impls(op(linux_7_2, "pv_ops_lock.kick")) == [
        ("hyperv", "hv_qlock_kick"), ("kvm", "kvm_kick_cpu"), ("native", "paravirt_nop"),
        ("xen", "xen_qlock_kick")]


@pytest.mark.kernel
def test_7_2_static_calls_and_their_installs(linux_7_2):
    # kernel/sched/cputime.c:266 defines pv_steal_clock for every architecture; arch/x86/kernel/
    # tsc.c:270 pv_sched_clock. include/linux/sched/cputime.h:196 calls the first in
    # paravirt_steal_clock(), tsc.c:274 the second in sched_clock_noinstr().
    assert static_calls(linux_7_2) == {("generic", "pv_steal_clock"): ("kernel/sched/cputime.c", 266),
                                       ("x86", "pv_sched_clock"): ("arch/x86/kernel/tsc.c", 270)}
    steal = op(linux_7_2, "pv_steal_clock", arch="generic")
    assert [(c.file, c.line, c.function) for c in steal.call_sites] == [
        ("include/linux/sched/cputime.h", 196, "paravirt_steal_clock")]
    assert {(n, f, line, fn) for _a, n, f, line, fn in installs(linux_7_2)} == {
        ("pv_steal_clock", "arch/arm64/kernel/paravirt.c", 158, "para_steal_clock"),
        ("pv_steal_clock", "arch/loongarch/kernel/paravirt.c", 309, "paravt_steal_clock"),
        ("pv_steal_clock", "arch/riscv/kernel/paravirt.c", 117, "pv_time_steal_clock"),
        ("pv_steal_clock", "arch/x86/kernel/kvm.c", 864, "kvm_steal_clock"),
        ("pv_steal_clock", "arch/x86/kernel/cpu/vmware.c", 355, "vmware_steal_clock"),
        ("pv_steal_clock", "arch/x86/xen/time.c", 569, "xen_steal_clock"),
        ("pv_steal_clock", "drivers/xen/time.c", 170, "xen_steal_clock"),
        ("pv_sched_clock", "arch/x86/kernel/kvmclock.c", 121, "kvm_sched_clock_read"),
        ("pv_sched_clock", "arch/x86/kernel/cpu/vmware.c", 351, "vmware_sched_clock"),
        ("pv_sched_clock", "arch/x86/xen/time.c", 570, "xen_sched_clock"),
        ("pv_sched_clock", "drivers/clocksource/hyperv_timer.c", 631, "read_hv_sched_clock_tsc"),
    }


@pytest.mark.kernel
def test_7_2_checks_against_its_own_backends(linux_7_2):
    # With its Kconfig read (arch/Kconfig:955 'transitional', drivers/usb/cdns3/Kconfig:5
    # 'depends on USB if !USB_GADGET'), x86's PARAVIRT selects HAVE_PV_STEAL_CLOCK_GEN
    # (arch/x86/Kconfig:798), so pv_steal_clock is in each x86-64 ABI's kernel.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.source.directory import KernelTree

    abis = [load_abi(n) for n in ("xen-pv", "kvm", "hyperv")]
    checked, notes = check_tree(KernelTree(kernel_path("7.2")), linux_7_2.inventory, abis,
                                version=linux_7_2.version)
    assert not [f for f in checked.findings if f.severity in ("error", "warning")]
    assert not [n for n in notes if "could not be read" in n or "cannot parse" in n]
    # Each backend's sched_clock reads memory the hypervisor writes (xen/time.c:570 the vcpu_info
    # time, kvmclock.c:121 the pvclock area, hyperv_timer.c:631 the reference TSC page): to =
    # "shared", counted mapped. KVM's steal clock reads kvm_steal_time (kvm.c:864); Xen's
    # (time.c:569 -> drivers/xen/time.c:170 xen_steal_clock) reads the runstate area Xen's
    # VCPUOP_register_runstate_memory_area registers (vcpu_runstate_info); Hyper-V leaves it native.
    kinds = {abi.name: (checked.op_kinds[(abi.name, "generic", "pv_steal_clock")],
                        checked.op_kinds[(abi.name, "x86", "pv_sched_clock")]) for abi in abis}
    assert kinds == {"xen-pv": ("mapped", "mapped"), "kvm": ("mapped", "mapped"), "hyperv": ("native", "mapped")}


@pytest.mark.kernel
@pytest.mark.parametrize("version", ["6.12", "7.2"])
def test_steal_time_abis_of_every_architecture_hold_on_their_backends(version):
    # arm64 (arch/arm64/kernel/paravirt.c), riscv (riscv/kernel/paravirt.c), loongarch
    # (loongarch/kernel/paravirt.c) and VMware (x86/kernel/cpu/vmware.c) each install
    # pv_steal_clock; their ABIs map it, and their shared structs lie as the specifications say.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    tree = KernelTree(kernel_path(version))
    result = scan(tree, callers=False)
    abis = [load_abi(n) for n in ("arm64-pv-time", "riscv-sbi-sta", "loongarch-kvm", "vmware")]
    checked, _notes = check_tree(tree, result.inventory, abis, version=result.version)
    assert not [f for f in checked.findings if f.severity in ("error", "warning")]
    steal = "pv_steal_clock"
    arch = "generic" if version == "7.2" else None
    for abi in abis:
        kinds = {(a, o): k for (name, a, o), k in checked.op_kinds.items() if name == abi.name}
        assert kinds[(arch or abi.arch, steal)] == "mapped", abi.name   # to = "shared": the area
