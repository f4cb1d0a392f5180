"""The 4.20+ generation: 'struct paravirt_patch_template pv_ops' (fixtures/gen3-unified)."""

from conftest import functions, impls, op


def test_unified_root_and_names_without_the_instance(gen3):
    tables = {t.name: t for t in gen3.inventory.tables}
    assert tables["pv_ops"].generation == "unified"
    assert tables["pv_ops"].groups == ("cpu", "irq", "lock", "mmu")
    assert op(gen3, "mmu.set_pte").group == "mmu"
    assert op(gen3, "mmu.lazy_mode.enter").group == "mmu"


def test_tools_copy_is_never_read(gen3):
    assert not [o for o in gen3.inventory.ops if "tools_only_op" in o.name]


def test_guard_spans_struct_and_member(gen3):
    assert op(gen3, "mmu.lazy_mode.flush").guard == "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)"
    assert op(gen3, "cpu.invalidate_io_bitmap").guard == \
        "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL) && defined(CONFIG_X86_IOPL_IOPERM)"
    assert op(gen3, "mmu.p4d_val").guard == \
        "defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL) && CONFIG_PGTABLE_LEVELS >= 5"


def test_annotated_struct_keeps_its_members(gen3):
    # 'struct pv_lock_ops { ... } __no_randomize_layout __aligned(8);'
    assert {o.name for o in gen3.inventory.ops if o.group == "lock"} == {
        "lock.queued_spin_lock_slowpath", "lock.queued_spin_unlock", "lock.wait", "lock.kick",
        "lock.vcpu_is_preempted"}


def test_alt_call_site_has_replacement_and_condition(gen3):
    (site,) = op(gen3, "mmu.write_cr3").call_sites
    assert (site.kind, site.arity, site.function) == ("PVOP_ALT_VCALL1", 1, "write_cr3")
    assert site.alt_replacement == '"mov %%rdi, %%cr3"' and site.alt_condition == "ALT_NOT_XEN"


def test_direct_call_and_read_through_pv_ops(gen3):
    assert [(c.kind, c.function) for c in op(gen3, "mmu.set_fixmap").call_sites] == [("call", "__set_fixmap")]
    reads = [c for c in op(gen3, "lock.queued_spin_unlock").call_sites if c.kind == "read"]
    assert [(c.file, c.function) for c in reads] == [("arch/x86/kernel/paravirt.c", "pv_is_native_spin_unlock")]


def test_pvop_macro_definitions_are_not_call_sites(gen3):
    sites = [c for o in gen3.inventory.ops for c in o.call_sites if c.file.endswith("paravirt_types.h")]
    assert sites == []


def test_every_first_entry_after_if_in_the_native_initializer(gen3):
    assert functions(op(gen3, "cpu.read_cr0"), "native") == ["native_read_cr0"]
    assert functions(op(gen3, "cpu.invalidate_io_bitmap"), "native") == ["native_tss_invalidate_io_bitmap"]
    assert functions(op(gen3, "mmu.read_cr2"), "native") == ["pv_native_read_cr2"]
    assert functions(op(gen3, "mmu.p4d_val"), "native") == ["_paravirt_ident_64"]
    assert functions(op(gen3, "lock.queued_spin_lock_slowpath"), "native") == ["native_queued_spin_lock_slowpath"]


def test_first_entry_after_if_in_typeof_initializers(gen3):
    assert functions(op(gen3, "cpu.invalidate_io_bitmap"), "xen") == ["xen_invalidate_io_bitmap"]
    assert functions(op(gen3, "mmu.set_pmd"), "xen") == ["xen_set_pmd_hyper"]


def test_implementation_guard_combines_initializer_guards(gen3):
    (i,) = [i for i in op(gen3, "lock.wait").implementations if i.backend == "native"]
    assert i.guard == "defined(CONFIG_PARAVIRT_SPINLOCKS) && defined(CONFIG_SMP)"


def test_nested_and_dotted_designators(gen3):
    assert functions(op(gen3, "mmu.lazy_mode.enter"), "xen") == ["xen_enter_lazy_mmu"]
    assert functions(op(gen3, "mmu.lazy_mode.enter"), "native") == ["paravirt_nop"]
    assert functions(op(gen3, "mmu.flush_tlb_multi"), "hyperv") == ["hyperv_flush_tlb_multi"]


def test_assignments_with_address_of_and_callee_save_wrappers(gen3):
    assert functions(op(gen3, "mmu.write_cr3"), "xen") == ["xen_write_cr3", "xen_write_cr3_init"]
    wrapped = {(i.function, i.wrapped_by) for i in op(gen3, "lock.vcpu_is_preempted").implementations
               if i.backend == "kvm"}
    assert wrapped == {("__kvm_vcpu_is_preempted", ("PV_CALLEE_SAVE",))}


def test_group_copy_leaves_unnamed_ops_null_for_that_backend(gen3):
    for name in ("mmu.set_pgd", "mmu.p4d_val"):
        assert [(c.backend, c.source) for c in op(gen3, name).cleared_by] == [("xen", "xen_mmu_ops.mmu")]
    assert [c.backend for c in op(gen3, "cpu.io_delay").cleared_by] == []


def test_header_assignment_is_native_with_its_guards(gen3):
    (i,) = [i for i in op(gen3, "cpu.io_delay").implementations if i.function == "native_io_delay_lkgs"]
    assert i.backend == "native" and i.file == "arch/x86/include/asm/gsseg.h"
    assert i.guard == "defined(CONFIG_PARAVIRT_XXL) && defined(CONFIG_X86_64)"


def test_each_backend_of_io_delay(gen3):
    assert impls(op(gen3, "cpu.io_delay")) == [
        ("kvm", "kvm_io_delay"), ("native", "native_io_delay"), ("native", "native_io_delay_lkgs"),
        ("vmware", "paravirt_nop"), ("xen", "xen_io_delay")]


def test_callers_counted_across_the_tree(gen3):
    assert [c.path for c in gen3.callers[("x86", "set_pte")]] == ["mm/memory.c"]
    assert [c.function for c in gen3.callers[("x86", "write_cr3")]] == ["switch_mm_irqs_off"]
    # drivers/idle/poll.c defines its own halt(); arch_safe_halt() there is the wrapper.
    assert ("x86", "halt") not in gen3.callers
    assert [c.path for c in gen3.callers[("x86", "arch_safe_halt")]] == ["drivers/idle/poll.c"]


def test_call_inside_a_macro_body_counts_with_the_macro_as_caller(gen3):
    assert [(c.function, c.line) for c in gen3.callers[("x86", "paravirt_read_msr")]] == [("rdmsrl", 61)]


def test_arm64_stolen_time_in_its_paravirt_c_is_kvms_and_xens_is_shared(tmp_path):
    """The 4.20-5.12 arm64 layout (our own minimal C after it): asm/paravirt.h declares
    'struct paravirt_patch_template { struct pv_time_ops time; }', kernel/paravirt.c defines pv_ops
    with no initializer and fills time.steal_clock in pv_time_init() with the SMCCC stolen time
    KVM provides; drivers/xen/time.c fills it for Xen on x86, arm and arm64 alike. There is no
    native implementation: the op is NULL until a hypervisor fills it."""
    from pvscan.pipeline import scan

    (tmp_path / "Makefile").write_text("VERSION = 5\nPATCHLEVEL = 10\nSUBLEVEL = 0\n")
    asm = tmp_path / "arch" / "arm64" / "include" / "asm"
    asm.mkdir(parents=True)
    (asm / "paravirt.h").write_text(
        "#ifdef CONFIG_PARAVIRT\nstruct pv_time_ops {\n\tunsigned long long (*steal_clock)(int cpu);\n};\n\n"
        "struct paravirt_patch_template {\n\tstruct pv_time_ops time;\n};\n\n"
        "extern struct paravirt_patch_template pv_ops;\n\n"
        "static inline u64 paravirt_steal_clock(int cpu)\n{\n\treturn pv_ops.time.steal_clock(cpu);\n}\n#endif\n")
    kernel = tmp_path / "arch" / "arm64" / "kernel"
    kernel.mkdir(parents=True)
    (kernel / "paravirt.c").write_text(
        "#include <asm/paravirt.h>\n\nstruct paravirt_patch_template pv_ops;\nEXPORT_SYMBOL_GPL(pv_ops);\n\n"
        "static u64 pv_steal_clock(int cpu)\n{\n\treturn stolen_time_from_smccc(cpu);\n}\n\n"
        "int __init pv_time_init(void)\n{\n\tif (!has_pv_steal_clock())\n\t\treturn 0;\n"
        "\tpv_ops.time.steal_clock = pv_steal_clock;\n\treturn 0;\n}\n")
    (tmp_path / "drivers" / "xen").mkdir(parents=True)
    (tmp_path / "drivers" / "xen" / "time.c").write_text(
        "#include <asm/paravirt.h>\n\nvoid __init xen_time_setup_guest(void)\n{\n"
        "\tpv_ops.time.steal_clock = xen_steal_clock;\n}\n")
    result = scan(tmp_path, jobs=1)
    steal = op(result, "time.steal_clock", "arm64")
    assert impls(steal) == [("kvm", "pv_steal_clock"), ("xen", "xen_steal_clock")]
    assert [s.function for s in steal.call_sites] == ["paravirt_steal_clock"]
