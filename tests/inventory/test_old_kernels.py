"""The 2.6.2x/3x generations on the real trees (scripts/unpack-mirror; skipped in CI).

Each fact was read in the tree itself: include/asm-i386/paravirt.h of
2.6.22.19 and arch/x86/include/asm/paravirt.h of 2.6.32.
"""

from __future__ import annotations

from conftest import op


def sites(o):
    return sorted((c.file, c.line, c.kind, c.function) for c in o.call_sites)


def test_2_6_22_pvop_macro_names_the_op_bare(linux_2_6_22):
    # paravirt.h:460-463: write_cr0() { PVOP_VCALL1(write_cr0, x); }
    assert sites(op(linux_2_6_22, "paravirt_ops.write_cr0", "i386")) == [
        ("include/asm-i386/paravirt.h", 462, "PVOP_VCALL1", "write_cr0")]


def test_2_6_22_asm_sites_through_paravirt_type(linux_2_6_22):
    # paravirt.h:936-948: __raw_local_save_flags(), 'paravirt_type(save_fl)' in its asm.
    assert sites(op(linux_2_6_22, "paravirt_ops.save_fl", "i386")) == [
        ("include/asm-i386/paravirt.h", 944, "asm", "__raw_local_save_flags")]


def test_2_6_22_asm_sites_through_asm_offsets(linux_2_6_22):
    # paravirt.h:1042-1044: INTERRUPT_RETURN jumps through paravirt_ops+PARAVIRT_iret,
    # which asm-offsets.c:115 makes OFFSET(PARAVIRT_iret, paravirt_ops, iret).
    assert sites(op(linux_2_6_22, "paravirt_ops.iret", "i386")) == [
        ("include/asm-i386/paravirt.h", 1044, "asm", "INTERRUPT_RETURN")]


def test_2_6_22_halt_has_no_call_site(linux_2_6_22):
    # paravirt.h:504-507: halt() calls PVOP_VCALL0(safe_halt), not halt.
    assert sites(op(linux_2_6_22, "paravirt_ops.halt", "i386")) == []


def test_2_6_32_asm_sites_through_asm_offsets(linux_2_6_32):
    # paravirt.h:1034-1037: SWAPGS calls through pv_cpu_ops+PV_CPU_swapgs;
    # 1045-1047: PARAVIRT_ADJUST_EXCEPTION_FRAME through pv_irq_ops+PV_IRQ_adjust_exception_frame.
    assert sites(op(linux_2_6_32, "pv_cpu_ops.swapgs", "x86")) == [
        ("arch/x86/include/asm/paravirt.h", 1036, "asm", "SWAPGS")]
    assert [c.function for c in op(linux_2_6_32, "pv_irq_ops.adjust_exception_frame", "x86").call_sites] == [
        "PARAVIRT_ADJUST_EXCEPTION_FRAME"]


def test_vmi_abi_of_the_split_era_checks_2_6_22(linux_2_6_22):
    # The bundled vmi ABI names the 2.6.23-36 ops: pv_cpu_ops.cpuid is 2.6.22's
    # paravirt_ops.cpuid, pv_mmu_ops.alloc_pte its alloc_pt (paravirt.h:176).
    # read_tsc is 'u64 (*read_tsc)(void)' (paravirt.h:117), filled straight with
    # the RDTSC ROM call (vmi.c:769): edx:eax carry it (return_words = 2).
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    found = check(linux_2_6_22.inventory, [load_abi("vmi")])
    kinds = found.op_kinds
    assert kinds[("vmi", "i386", "paravirt_ops.cpuid")] == "mapped"
    assert kinds[("vmi", "i386", "paravirt_ops.alloc_pt")] == "mapped"
    assert kinds[("vmi", "i386", "paravirt_ops.read_tsc")] == "mapped"
    assert not [f for f in found.findings if f.severity == "error"]
    stale = {f.op for f in found.findings if f.code == "PV006"}
    assert "pv_cpu_ops.cpuid" not in stale and "pv_mmu_ops.alloc_pte" not in stale


def test_vmi_abi_checks_clean_on_the_trees_that_carry_vmi(linux_2_6_22, linux_2_6_32):
    # Both trees hold VMware's backend (arch/i386/kernel/vmi.c, arch/x86/kernel/vmi_32.c):
    # what it fills, the bundled ABI maps; what it leaves native needs nothing.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    for result in (linux_2_6_22, linux_2_6_32):
        found = check(result.inventory, [load_abi("vmi")], version=result.version).findings
        assert [(f.code, f.op) for f in found if f.severity != "note"] == []


def test_vmi_leaves_spinlocks_native_in_2_6_32(linux_2_6_32):
    # vmi_32.c activate_vmi never touches pv_lock_ops: the native default stays.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    kinds = check(linux_2_6_32.inventory, [load_abi("vmi")], version=linux_2_6_32.version).op_kinds
    locks = {k[2]: v for k, v in kinds.items() if k[2].startswith("pv_lock_ops.")}
    assert locks and set(locks.values()) == {"native"}


def test_2_6_32_vmi_fills_through_para_wrap_and_vmi_ops(linux_2_6_32):
    # vmi_32.c:710: para_wrap(pv_cpu_ops.write_ldt_entry, vmi_write_ldt_entry, ...);
    # 405-409: vmi_pte_clear, set under CONFIG_X86_PAE when vmi_ops.set_pte exists.
    assert ("vmi", "vmi_write_ldt_entry") in [
        (i.backend, i.function) for i in op(linux_2_6_32, "pv_cpu_ops.write_ldt_entry", "x86").implementations]
    assert ("vmi", "vmi_pte_clear") in [
        (i.backend, i.function) for i in op(linux_2_6_32, "pv_mmu_ops.pte_clear", "x86").implementations]


def test_target_macros_and_kconfig_complete_the_abi_config(linux_2_6_32):
    # pgtable_32_types.h:9-14 includes pgtable-3level_types.h (:27 PAGETABLE_LEVELS 3) under
    # CONFIG_X86_PAE; pgtable_64_types.h:21 says 4. arch/x86/Kconfig: X86_32 is 'def_bool !64BIT',
    # X86_64 'def_bool 64BIT', X86_PAE 'depends on X86_32'.
    from conftest import old_kernel_path

    from pvscan.abi import load_abi
    from pvscan.checks.target import complete_config
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.source.directory import KernelTree

    tree = KernelTree(old_kernel_path("2.6.32"))
    vmi, _ = complete_config(tree, linux_2_6_32.inventory.ops, load_abi("vmi"), LazyGuardLogic(tree))
    assert vmi.config["PAGETABLE_LEVELS"] == 3
    kvm, notes = complete_config(tree, linux_2_6_32.inventory.ops, load_abi("kvm"), LazyGuardLogic(tree))
    assert kvm.config["PAGETABLE_LEVELS"] == 4 and kvm.config["CONFIG_X86_PAE"] is False
    assert any("pgtable_64_types.h:21" in n for n in notes)


def test_lguest_abi_checks_clean_on_2_6_32(linux_2_6_32):
    # arch/x86/lguest/boot.c lguest_init fills 42 ops; the bundled ABI maps each.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    result = check(linux_2_6_32.inventory, [load_abi("lguest")], version=linux_2_6_32.version)
    assert [(f.code, f.op) for f in result.findings if f.severity != "note"] == []
    # Carried by lguest's interface: 26 ops end in hypercalls (boot.c's lazy_hcall/kvm_hypercall,
    # i386_head.S's LHCALL_SEND_INTERRUPTS), and four work through lguest_data alone:
    # save_fl and irq_disable (boot.c:229, 235), read_cr2 (boot.c:516), iret (i386_head.S).
    kinds = {name: kind for (abi, _, name), kind in result.op_kinds.items() if abi == "lguest"}
    assert sum(1 for k in kinds.values() if k == "mapped") == 30
    for name in ("pv_irq_ops.save_fl", "pv_irq_ops.irq_disable", "pv_mmu_ops.read_cr2", "pv_cpu_ops.iret"):
        assert kinds[name] == "mapped"
    # boot.c:398-402: cpuid 'isn't privileged', so the Host never sees it: native, not trap.
    assert kinds["pv_cpu_ops.cpuid"] == "native"


def test_2_6_22_members_of_both_pae_branches_exist_in_both(linux_2_6_22):
    # paravirt.h:195-215: pte_val, pgd_val, make_pte, make_pgd in both branches of
    # '#ifdef CONFIG_X86_PAE'; pmd_val and make_pmd only in the PAE branch.
    for name in ("pte_val", "pgd_val", "make_pte", "make_pgd"):
        o = op(linux_2_6_22, f"paravirt_ops.{name}", "i386")
        assert o.guard == "defined(CONFIG_PARAVIRT)" and len(o.variants) == 2
    assert [v.line for v in op(linux_2_6_22, "paravirt_ops.pte_val", "i386").variants] == [202, 210]
    assert "CONFIG_X86_PAE" in op(linux_2_6_22, "paravirt_ops.pmd_val", "i386").guard
    assert not [w for w in linux_2_6_22.warnings if "declared twice" in w.message]


def test_vmi_absorbed_the_pv_ops_changes_from_2_6_22_to_2_6_32(linux_2_6_22, linux_2_6_32):
    # VMI stayed at API 3.0 (vmi.h VMI_API_REV_MAJOR 3 in both) while pv_ops split and grew:
    # with the 2.6.32 backend as witness, no change needed anything VMI lacks.
    import json

    from conftest import old_kernel_path, pvscan

    proc = pvscan("history", str(old_kernel_path("2.6.22")), str(old_kernel_path("2.6.32")), "--abi", "vmi",
                  "--format", "json", "--no-progress")
    (pair,) = json.loads(proc.stdout)["abis"]
    assert pair["verdict_counts"]["needs-abi"] == 0 and pair["verdict_counts"]["unknown"] == 0
    assert pair["verdict_counts"]["absorbed"] > 0 and pair["verdict_counts"]["native"] > 0
    # 2.6.32 paravirt_types.h:301-306: pud_val, make_pud and set_pgd under 'PAGETABLE_LEVELS == 4';
    # an i386-pae kernel has 3 (pgtable-3level_types.h:27), as check completes vmi's configuration
    # and so history does: the ops are not there for VMI, and no change of it.
    judged = {v["op"] for v in pair["verdicts"]}
    assert not judged & {"x86:pv_mmu_ops.pud_val", "x86:pv_mmu_ops.make_pud", "x86:pv_mmu_ops.set_pgd"}


def test_xen_kvm_and_hyperv_absorbed_the_pv_ops_changes_from_2_6_32_to_6_12(linux_2_6_32, linux_4_14):
    # 2.6.32 -> 4.14 -> 6.1 -> 6.12: lock ops turned to qspinlock, p4d came, the time ops and
    # iret left, the tables merged into pv_ops. With each revision's backend as witness and
    # each era's mappings, no change needed anything the hypercall ABIs lack.
    import json

    from conftest import kernel_path, old_kernel_path, pvscan

    trees = [str(old_kernel_path("2.6.32")), str(old_kernel_path("4.14")), str(kernel_path("6.1")),
             str(kernel_path("6.12"))]
    proc = pvscan("history", *trees, "--abi", "xen-pv", "--abi", "kvm", "--abi", "hyperv",
                  "--format", "json", "--no-progress")
    pairs = json.loads(proc.stdout)["abis"]
    assert len(pairs) == 9
    assert [(p["abi"], p["verdict_counts"]["needs-abi"]) for p in pairs if p["verdict_counts"]["needs-abi"]] == []
    assert all(p["verdict_counts"]["absorbed"] > 0 for p in pairs)


def test_traced_glue_agrees_with_the_bundled_abis_of_the_backends_in_2_6_2x_and_3x():
    # vmi_32.c's para_fill/para_wrap and vmi_ops pointers, lguest's lazy_hcall/kvm_hypercall
    # with LHCALL_*: every traced call is the one the bundled ABI names (no PV009). 2.6.32's
    # vmi_set_pte_atomic ends in vmi_ops.update_pte (UpdatePxELong), lguest_set_pmd under PAE
    # in LHCALL_SET_PMD (boot.c:680-685; the !PAE twin at :688 uses LHCALL_SET_PGD). 2.6.32
    # also carries Xen PV (xen_clts ends in MULTI_fpu_taskswitch, xen_set_io_bitmap in
    # physdev_op) and KVM's paravirtual MMU: their bundled ABIs hold there too.
    from conftest import old_kernel_path, pvscan

    for version, abi in (("2.6.22", "vmi"), ("2.6.32", "vmi"), ("2.6.32", "lguest"), ("2.6.32", "xen-pv"),
                         ("2.6.32", "kvm")):
        proc = pvscan("check", str(old_kernel_path(version)), "--abi", abi, "--trace-glue")
        assert proc.returncode == 0 and "0 error(s), 0 warning(s)" in proc.stdout, (version, abi, proc.stdout[-500:])


def test_the_bundled_abis_map_2_6_32s_own_ops_by_era(linux_2_6_32):
    # kvm.c:206-228 (KVM_FEATURE_MMU_OP): set_pte is kvm_set_pte -> kvm_mmu_write ->
    # kvm_hypercall3(KVM_HC_MMU_OP, ...), :53-65; 4.14's kvm.c leaves it native.
    # xen/mmu.c:2327 '.set_pgd = xen_set_pgd' sets the top of four levels, where 6.x's
    # set_pgd is a fifth level Xen PV does not have (unsupported).
    from pvscan.abi import load_abi
    from pvscan.checks.check import check

    kinds = check(linux_2_6_32.inventory, [load_abi("kvm"), load_abi("xen-pv")],
                  version=linux_2_6_32.version).op_kinds
    assert kinds[("kvm", "x86", "pv_mmu_ops.set_pte")] == "mapped"
    assert kinds[("kvm", "x86", "pv_mmu_ops.flush_tlb_user")] == "mapped"
    assert kinds[("xen-pv", "x86", "pv_mmu_ops.set_pgd")] == "mapped"
    chosen = {m.op: m for m in load_abi("xen-pv").mappings if m.op in ("mmu.set_pgd", "pv_mmu_ops.set_pgd")}
    assert chosen["pv_mmu_ops.set_pgd"].hypercalls == ("mmu_update",)
    assert chosen["mmu.set_pgd"].to == "unsupported"


def test_derive_abi_reaches_vmi_rom_calls_on_2_6_32():
    from conftest import old_kernel_path, pvscan

    text = pvscan("derive-abi", "vmi", str(old_kernel_path("2.6.32"))).stdout
    assert 'target = "i386-pae"' in text       # CONFIG_VMI depends on X86_32; SetPxELong under X86_PAE
    assert 'op = "pv_cpu_ops.clts"\nto = "hypercall"\nhypercalls = ["CLTS"]' in text
    assert 'op = "pv_mmu_ops.set_pte"\nto = "hypercall"\nhypercalls = ["SetPxELong"]' in text
    assert 'name = "SetPxELong"\nnumber = 39' in text          # vmi.h: VMI_CALL_SetPxELong 39


def test_2_6_22_wrappers_defined_in_c_files_get_their_callers_from_a_cold_scan(tmp_path, monkeypatch):
    # arch/i386/kernel/paravirt.c:48-50 'char *memory_setup(void) { return paravirt_ops.memory_setup(); }',
    # called by setup.c:555 'print_memory_map(memory_setup());'. The headers' guess before the one
    # search cannot name it (it is no header's), so a cold scan searches for it afterwards; the
    # callers are those a scan that remembered the name finds.
    from conftest import old_kernel_path

    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    cold_tree = KernelTree(old_kernel_path("2.6.22"))
    cold = scan(cold_tree)
    assert "memory_setup" not in cold_tree.searched_wrappers
    (w,) = op(cold, "paravirt_ops.memory_setup", "i386").wrappers
    assert (w.name, w.file, w.line) == ("memory_setup", "arch/i386/kernel/paravirt.c", 48)
    assert ("arch/i386/kernel/setup.c", 555) in {(c.path, c.line) for c in cold.callers[("i386", "memory_setup")]}
    warm_tree = KernelTree(old_kernel_path("2.6.22"))
    warm = scan(warm_tree)
    assert "memory_setup" in warm_tree.searched_wrappers
    assert warm.callers == cold.callers


# -- 4.14.219 (github:tw-embedded/linux-4.19's HEAD), the last years of the split globals --------

def test_4_14_split_roots_with_lock_and_time_ops_and_the_arm_steal_clock(linux_4_14):
    # paravirt_types.h:329-335 'extern struct pv_info pv_info; ... extern struct pv_lock_ops
    # pv_lock_ops;'; arch/arm and arch/arm64 asm/paravirt.h:13 'extern struct pv_time_ops pv_time_ops;'.
    tables = {(t.arch, t.name): t for t in linux_4_14.inventory.tables}
    assert set(tables) == {("x86", n) for n in ("pv_info", "pv_init_ops", "pv_time_ops", "pv_cpu_ops",
                                                "pv_irq_ops", "pv_mmu_ops", "pv_lock_ops")} | {
        ("arm", "pv_time_ops"), ("arm64", "pv_time_ops")}
    # One root with ops on arm and on arm64: 'single' by the rule of docs/scan.md.
    assert {(t.arch, t.generation) for t in tables.values()} == {("x86", "split"), ("arm", "single"),
                                                                  ("arm64", "single")}
    # struct pv_lock_ops: queued_spin_lock_slowpath, queued_spin_unlock, wait, kick, vcpu_is_preempted.
    assert tables[("x86", "pv_lock_ops")].ops == 5


def test_4_14_first_entry_after_each_ifdef_in_xen_cpu_ops(linux_4_14):
    # xen/enlighten_pv.c:1040 'static const struct pv_cpu_ops xen_cpu_ops __initconst = {', then
    # '#ifdef CONFIG_X86_64' before :1052 .read_cr8, :1068 .usergs_sysret64, :1077 .load_gs_index.
    for name, function, line in (("pv_cpu_ops.read_cr8", "xen_read_cr8", 1052),
                                 ("pv_cpu_ops.usergs_sysret64", "xen_sysret64", 1068),
                                 ("pv_cpu_ops.load_gs_index", "xen_load_gs_index", 1077)):
        xen = [(i.function, i.file, i.line, i.via, i.guard) for i in op(linux_4_14, name).implementations
               if i.backend == "xen"]
        assert xen == [(function, "arch/x86/xen/enlighten_pv.c", line, "initializer", "defined(CONFIG_X86_64)")]


def test_4_14_vsmp_is_a_backend_of_its_own(linux_4_14):
    # vsmp_64.c:32 '#if defined CONFIG_PCI && defined CONFIG_PARAVIRT'; set_vsmp_pv_ops()
    # :120-124 fills irq_disable, irq_enable, save_fl, restore_fl with PV_CALLEE_SAVE(vsmp_*) and
    # pv_init_ops.patch with vsmp_patch.
    vsmp = sorted((o.name, i.function, i.line, i.wrapped_by, i.guard)
                  for o in linux_4_14.inventory.ops for i in o.implementations if i.backend == "vsmp")
    guard = "defined(CONFIG_PCI) && defined(CONFIG_PARAVIRT)"
    assert vsmp == [("pv_init_ops.patch", "vsmp_patch", 124, (), guard),
                    ("pv_irq_ops.irq_disable", "vsmp_irq_disable", 120, ("PV_CALLEE_SAVE",), guard),
                    ("pv_irq_ops.irq_enable", "vsmp_irq_enable", 121, ("PV_CALLEE_SAVE",), guard),
                    ("pv_irq_ops.restore_fl", "vsmp_restore_fl", 123, ("PV_CALLEE_SAVE",), guard),
                    ("pv_irq_ops.save_fl", "vsmp_save_fl", 122, ("PV_CALLEE_SAVE",), guard)]
    assert not [i for o in linux_4_14.inventory.ops for i in o.implementations if i.backend == "unattributed"]


def test_4_14_backends_filled_by_assignment(linux_4_14):
    # hyperv/mmu.c:295 and :298: flush_tlb_others is hyperv_flush_tlb_others, or its _ex twin;
    # kvm.c:651-657 (under CONFIG_PARAVIRT_SPINLOCKS, :566-662) the five lock ops;
    # cpu/vmware.c:100 'pv_time_ops.sched_clock = vmware_sched_clock;' (under CONFIG_PARAVIRT).
    assert [(i.function, i.line) for i in op(linux_4_14, "pv_mmu_ops.flush_tlb_others").implementations
            if i.backend == "hyperv"] == [("hyperv_flush_tlb_others", 295), ("hyperv_flush_tlb_others_ex", 298)]
    kvm_lock = sorted((o.name, i.function, i.line, i.guard) for o in linux_4_14.inventory.ops
                      if o.table == "pv_lock_ops" for i in o.implementations if i.backend == "kvm")
    spin = "defined(CONFIG_PARAVIRT_SPINLOCKS)"
    assert kvm_lock == [("pv_lock_ops.kick", "kvm_kick_cpu", 654, spin),
                        ("pv_lock_ops.queued_spin_lock_slowpath", "__pv_queued_spin_lock_slowpath", 651, spin),
                        ("pv_lock_ops.queued_spin_unlock", "__pv_queued_spin_unlock", 652, spin),
                        ("pv_lock_ops.vcpu_is_preempted", "__kvm_vcpu_is_preempted", 657, spin),
                        ("pv_lock_ops.wait", "kvm_wait", 653, spin)]
    assert [(i.function, i.line, i.guard) for i in op(linux_4_14, "pv_time_ops.sched_clock").implementations
            if i.backend == "vmware"] == [("vmware_sched_clock", 100, "defined(CONFIG_PARAVIRT)")]


def test_4_14_drivers_xen_time_fills_the_steal_clock_of_three_arches(linux_4_14):
    # drivers/xen/time.c:110 'pv_time_ops.steal_clock = xen_steal_clock;' builds for x86, arm
    # and arm64, each with its own pv_time_ops.
    for arch in ("x86", "arm", "arm64"):
        assert ("drivers/xen/time.c", 110, "xen_steal_clock") in [
            (i.file, i.line, i.function) for i in op(linux_4_14, "pv_time_ops.steal_clock", arch).implementations]


def test_bundled_abis_agree_with_the_backends_of_4_14():
    # 4.14 carries Xen PV, KVM and Hyper-V: with the split-table ops mapped as it fills them
    # (xen_iret and xen_sysret64 jump to hypercall_iret, xen_set_iopl_mask makes physdev_op,
    # kvm_steal_clock reads shared memory, hyperv_flush_tlb_others makes the flush hypercalls)
    # and the ops 4.14 lacks marked '6.1-', only notes are left.
    from conftest import old_kernel_path, pvscan

    for abi in ("xen-pv", "kvm", "hyperv"):
        proc = pvscan("check", str(old_kernel_path("4.14")), "--abi", abi, "--trace-glue")
        assert proc.returncode == 0 and "0 error(s), 0 warning(s)" in proc.stdout, (abi, proc.stdout[-800:])


def test_4_14_xen_irq_enable_reaches_xen_version_as_the_bundled_abi_maps_it():
    # irq.c: xen_irq_enable() -> xen_force_evtchn_callback() -> HYPERVISOR_xen_version(0, NULL)
    # when an event is pending; enlighten_pv.c:1026 fills the op with xen_irq_enable_direct instead
    # when the vcpu_info is placed, whose xen-asm.S:21-40 calls check_events, which calls
    # xen_force_evtchn_callback. Both chains end in the same hypercall; the trace keeps one.
    import json

    from conftest import glue_chains as chains
    from conftest import old_kernel_path, pvscan

    reaches = chains(str(old_kernel_path("4.14")), "xen")["pv_irq_ops.irq_enable"]
    assert [(name, chain[-2:]) for name, _, chain in reaches] == [
        ("xen_version", ["xen_force_evtchn_callback", "HYPERVISOR_xen_version"])]
    assert reaches[0][2][0] in ("xen_irq_enable", "xen_irq_enable_direct")
    out = pvscan("check", str(old_kernel_path("4.14")), "--abi", "xen-pv", "--trace-glue", "--format", "json").stdout
    found = [f for f in json.loads(out)["findings"] if f["op"] == "pv_irq_ops.irq_enable"]
    assert [f["code"] for f in found if f["severity"] != "note"] == []


def test_4_14_pgtable_levels_is_4_or_5_for_an_x86_64_abi(linux_4_14):
    # arch/x86/Kconfig:332-337: 'config PGTABLE_LEVELS int', 'default 5 if X86_5LEVEL',
    # 'default 4 if X86_64', 'default 3 if X86_PAE', 'default 2'; :1410-1412 X86_5LEVEL is a
    # prompt 'depends on X86_64'. paravirt_types.h:273-280: pud_val, make_pud and set_p4d under
    # '#if CONFIG_PGTABLE_LEVELS >= 4', p4d_val and make_p4d under '>= 5' within it.
    from conftest import old_kernel_path

    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.source.directory import KernelTree

    tree = KernelTree(old_kernel_path("4.14"))
    checked, notes = check_tree(tree, linux_4_14.inventory, [load_abi("xen-pv")])
    assert "ABI xen-pv: CONFIG_PGTABLE_LEVELS = 4 or 5: from the defaults of the tree's Kconfig" in " ".join(notes)
    pv005 = {f.op: f.message for f in checked.findings if f.code == "PV005" and "PGTABLE" in f.message}
    assert "pv_mmu_ops.pud_val" not in pv005 and "pv_mmu_ops.set_p4d" not in pv005
    assert "leaves CONFIG_PGTABLE_LEVELS at 4 or 5" in pv005["pv_mmu_ops.p4d_val"]
    assert checked.op_kinds[("xen-pv", "x86", "pv_mmu_ops.set_p4d")] != "excluded"


def _chosen(result, abi_name, arch="x86"):
    from pvscan.abi import load_abi
    from pvscan.checks.check import chosen_mappings
    from pvscan.identity import OpIndex, ops_for_arch

    v = result.version
    return chosen_mappings(load_abi(abi_name), OpIndex(ops_for_arch(result.inventory.ops, arch)),
                           (v.version, v.patchlevel, v.sublevel))[0]


def test_2_6_32_xen_writes_ptes_directly_and_xen_pv_maps_it_as_a_trap(linux_2_6_32):
    # arch/x86/xen/mmu.c: xen_post_allocator_init:2323 'pv_mmu_ops.set_pte = xen_set_pte', whose
    # x86-64 branch is '*ptep = pte' (:974), trapped and emulated by Xen. xen_set_pte_at:739-752
    # makes update_va_mapping(addr, pteval, 0) for the current or init mm, else that write.
    # xen_set_fixmap:2286 -> __native_set_fixmap -> set_pte_vaddr_pud, which is the ops set_pte
    # and __flush_tlb_one (arch/x86/mm/init_64.c:167, 173; xen_flush_tlb_single: mmuext_op).
    chosen = _chosen(linux_2_6_32, "xen-pv")
    assert chosen["pv_mmu_ops.set_pte"].to == "trap"
    assert chosen["pv_mmu_ops.set_pte_at"].hypercalls == ("update_va_mapping",)
    assert chosen["pv_mmu_ops.set_pte_at"].args_for("update_va_mapping") == ("addr", "pteval", "0")
    assert chosen["pv_mmu_ops.set_fixmap"].hypercalls == ("mmuext_op",)


def test_4_14_xen_set_fixmap_goes_through_set_pte_and_a_flush(linux_4_14):
    # arch/x86/xen/mmu_pv.c:2319 __native_set_fixmap(idx, pte); arch/x86/mm/init_64.c:253, 259:
    # set_pte (xen_set_pte -> __xen_set_pte -> HYPERVISOR_mmu_update, :260-276) and
    # __flush_tlb_one_kernel -> flush_tlb_one_user (MMUEXT_INVLPG_LOCAL). 6.1 and 6.12 make
    # update_va_mapping in xen_set_fixmap itself (mmu_pv.c:2118, 2124).
    chosen = _chosen(linux_4_14, "xen-pv")
    assert chosen["pv_mmu_ops.set_fixmap"].hypercalls == ("mmu_update", "mmuext_op")
    assert chosen["pv_mmu_ops.set_pte"].hypercalls == ("mmu_update",)


def test_6_12_xen_set_fixmap_makes_update_va_mapping(linux_6_12):
    # 6.12 arch/x86/xen/mmu_pv.c:2123-2125: 'if (HYPERVISOR_update_va_mapping(vaddr, pte,
    # UVMF_INVLPG)) BUG();' in xen_set_fixmap itself: the unranged mapping, read in 6.1 and 6.12.
    chosen = _chosen(linux_6_12, "xen-pv")
    assert chosen["mmu.set_fixmap"].hypercalls == ("update_va_mapping",) and chosen["mmu.set_fixmap"].kernels is None


def test_2_6_22_kconfig_is_read_despite_its_dependency_loop():
    # arch/i386/Kconfig: SMP (:96), the subarchitecture choice (:125) whose X86_NUMAQ (:154)
    # selects SMP and whose X86_BIGSMP (:175) depends on it: scripts/kconfig reads on past the
    # loop, and so does pvscan, with a note. PARAVIRT (:213-215) depends on EXPERIMENTAL, and
    # VMI (:225-227) on PARAVIRT.
    from conftest import old_kernel_path

    from pvscan.kconfig import LazyGuardLogic
    from pvscan.source.directory import KernelTree

    logic = LazyGuardLogic(KernelTree(old_kernel_path("2.6.22"))).for_arch("i386")
    assert logic.problem is None
    (loop,) = [n for n in logic.notes if n.startswith("dependency loop")]
    assert loop.startswith("dependency loop SMP (defined at arch/i386/Kconfig:96) -> X86_NUMAQ (defined at "
                           "arch/i386/Kconfig:154) -> <choice> (defined at arch/i386/Kconfig:125) -> X86_BIGSMP")
    assert logic.needs["PARAVIRT"] == frozenset({"EXPERIMENTAL"})
    assert logic.needs["VMI"] == frozenset({"PARAVIRT", "EXPERIMENTAL"})


def test_history_follows_alloc_pd_clone_to_alloc_pmd_clone():
    # 2.6.22 include/asm-i386/paravirt.h:178 'void (*alloc_pd_clone)(u32 pfn, u32 clonepfn, ...)';
    # 2.6.32 arch/x86/include/asm/paravirt_types.h:260 'void (*alloc_pmd_clone)(unsigned long pfn, ...)'.
    from conftest import old_kernel_path

    from pvscan.history.lineage import history_of
    from pvscan.history.run import RevisionSpec, scan_revision

    specs = [RevisionSpec(v, "tree", str(old_kernel_path(v)), None) for v in ("2.6.22", "2.6.32")]
    doc = history_of([scan_revision(s) for s in specs], [])
    (lin,) = [lin for lin in doc.lineages if lin.identity == "x86:paravirt_ops.alloc_pd_clone"]
    assert lin.states[1].name == "pv_mmu_ops.alloc_pmd_clone"
    assert ("renamed", "paravirt_ops.alloc_pd_clone -> pv_mmu_ops.alloc_pmd_clone (by table)") in [
        (e.kind, e.detail) for e in doc.events[lin.identity]]


def test_4_19_checks_against_its_own_backends_with_each_era_right():
    # 4.19.13 (github:shubham95/linux-4.19.13): split tables still. A mapping for other kernels
    # never applies, so the kvm ABI's 6.x 'unsupported' and hypercall mappings no longer stand
    # for 4.19's ops (the nine false PV008 of the issue); the split-era ranges now hold 4.19,
    # whose backends fill those ops as 4.14's do (kvm.c:635-642, kvmclock.c:127, hyperv/mmu.c:234-235,
    # cpu/vmware.c:100-107, and Xen's xen_iret, xen_set_pte_at, xen_flush_tlb_others ...).
    from conftest import old_kernel_path

    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    tree = KernelTree(old_kernel_path("4.19"))
    result = scan(tree, callers=False)
    abis = [load_abi(n) for n in ("kvm", "xen-pv", "hyperv", "vmware")]
    checked, _notes = check_tree(tree, result.inventory, abis, version=result.version)
    assert not [f for f in checked.findings if f.code == "PV008"]
    assert not [str(f.message) for f in checked.findings if f.severity in ("error", "warning")]
