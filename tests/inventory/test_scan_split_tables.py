"""The 2.6.23-4.19 generation: split globals pv_cpu_ops, pv_mmu_ops ... (fixtures/gen2-split)."""

from conftest import functions, impls, op


def test_split_roots_per_arch_and_template_without_instance_is_not_a_root(gen2):
    tables = {(t.arch, t.name): t for t in gen2.inventory.tables}
    assert set(tables) == {("x86", "pv_info"), ("x86", "pv_init_ops"), ("x86", "pv_cpu_ops"),
                           ("x86", "pv_irq_ops"), ("x86", "pv_mmu_ops"),
                           ("ia64", "pv_cpu_ops"), ("ia64", "pv_irq_ops")}
    assert tables[("x86", "pv_mmu_ops")].generation == "split"
    assert tables[("x86", "pv_info")].ops == 0


def test_x86_and_ia64_pv_cpu_ops_never_merge(gen2):
    x86 = {o.name for o in gen2.inventory.ops if o.arch == "x86" and o.table == "pv_cpu_ops"}
    ia64 = {o.name for o in gen2.inventory.ops if o.arch == "ia64" and o.table == "pv_cpu_ops"}
    assert "pv_cpu_ops.fc" in ia64 and "pv_cpu_ops.fc" not in x86
    assert "pv_cpu_ops.cpuid" in x86 and "pv_cpu_ops.cpuid" not in ia64
    assert functions(op(gen2, "pv_cpu_ops.fc", "ia64"), "xen") == ["xen_fc"]


def test_nested_lazy_mode_is_named_by_its_path(gen2):
    o = op(gen2, "pv_mmu_ops.lazy_mode.enter")
    assert o.group == "pv_mmu_ops"
    assert impls(o) == [("lguest", "paravirt_enter_lazy_mmu"), ("native", "paravirt_nop"),
                        ("xen", "paravirt_enter_lazy_mmu")]


def test_nested_if_guards_conjoin(gen2):
    assert op(gen2, "pv_mmu_ops.set_pte_atomic").guard == "PAGETABLE_LEVELS >= 3 && defined(CONFIG_X86_PAE)"


def test_first_initializer_after_ifdef_in_a_static_table(gen2):
    assert functions(op(gen2, "pv_cpu_ops.load_gs_index"), "xen") == ["xen_load_gs_index"]


def test_a_backend_filling_callee_save_ops_in_a_function_under_a_bare_defined_guard(gen2):
    # fixtures' vsmp_64.c, as 2.6.32 and 4.14 arch/x86/kernel/vsmp_64.c: set_vsmp_pv_ops() under
    # '#if defined CONFIG_PCI && defined CONFIG_PARAVIRT', each op wrapped in PV_CALLEE_SAVE().
    vsmp = [(o.name, i.function, i.via, i.wrapped_by, i.line, i.guard)
            for o in gen2.inventory.ops for i in o.implementations if i.backend == "vsmp"]
    guard = "defined(CONFIG_PCI) && defined(CONFIG_PARAVIRT)"
    assert sorted(vsmp) == [
        ("pv_init_ops.patch", "vsmp_patch", "assignment", (), 25, guard),
        ("pv_irq_ops.irq_disable", "vsmp_irq_disable", "assignment", ("PV_CALLEE_SAVE",), 23, guard),
        ("pv_irq_ops.save_fl", "vsmp_save_fl", "assignment", ("PV_CALLEE_SAVE",), 24, guard)]


def test_callee_save_signature_comes_from_the_call_site(gen2):
    o = op(gen2, "pv_irq_ops.save_fl")
    assert o.convention == "callee_save" and o.signature_source == "call_site"
    assert o.return_type == "unsigned long" and o.params == ()
    assert [c.kind for c in o.call_sites] == ["PVOP_CALLEE0"]


def test_pvop_call_sites_name_the_table(gen2):
    o = op(gen2, "pv_mmu_ops.set_pte")
    assert [(c.kind, c.arity, c.function) for c in o.call_sites] == [("PVOP_VCALL2", 2, "set_pte")]


def test_wrapped_values_and_same_file_aliases(gen2):
    native = [i for i in op(gen2, "pv_mmu_ops.pte_val").implementations if i.backend == "native"]
    assert [(i.function, i.wrapped_by) for i in native] == [("_paravirt_ident_64", ("PTE_IDENT", "__PV_IS_CALLEE_SAVE"))]
    assert functions(op(gen2, "pv_irq_ops.save_fl"), "lguest") == ["save_fl"]


def test_assignment_inside_if_block(gen2):
    assert functions(op(gen2, "pv_mmu_ops.ptep_modify_prot_start"), "xen") == [
        "__ptep_modify_prot_start", "xen_ptep_modify_prot_start"]


def test_whole_table_copy_from_an_initializer_that_omits_an_op_clears_it(gen2):
    o = op(gen2, "pv_mmu_ops.set_pud")
    assert [(c.backend, c.source) for c in o.cleared_by] == [("xen", "xen_mmu_ops")]
    assert "xen" not in o.leaves_native
    # A backend that sets the op elsewhere does not clear it.
    assert not op(gen2, "pv_mmu_ops.set_pte").cleared_by


def test_vmi_fill_macros_with_whole_op_argument(gen2):
    assert functions(op(gen2, "pv_cpu_ops.get_debugreg"), "vmi") == ["para_fill(pv_cpu_ops.get_debugreg, GetDR)"]
    assert functions(op(gen2, "pv_mmu_ops.set_pte"), "vmi") == ["vmi_set_pte"]
    # The macro's argument is not also counted as a read.
    assert [c.kind for c in op(gen2, "pv_cpu_ops.get_debugreg").call_sites] == ["PVOP_CALL1"]


def test_backends_that_leave_the_native_default(gen2):
    # Every backend of the arch that fills something, but not this op (vsmp fills irq ops only).
    assert op(gen2, "pv_cpu_ops.set_debugreg").leaves_native == ("lguest", "vmi", "vsmp")


def test_local_definition_in_a_c_file_shadows_the_wrapper(gen2):
    callers = gen2.callers[("x86", "read_cr2")]
    assert [c.path for c in callers] == ["arch/x86/mm/fault.c"]


def test_header_definition_for_the_other_config_does_not_shadow(gen2):
    assert [w.callers for w in op(gen2, "pv_cpu_ops.load_gdt").wrappers] == [1]


def test_a_file_shared_by_architectures_fills_each_architectures_table(tmp_path):
    """drivers/xen/time.c is built for x86, arm and arm64 alike: 'pv_time_ops.steal_clock = ...' there
    fills the op of every architecture that declares it (our own minimal tree)."""
    from pvscan.pipeline import scan

    (tmp_path / "Makefile").write_text("VERSION = 5\nPATCHLEVEL = 4\nSUBLEVEL = 0\n")
    for arch in ("x86", "arm64"):
        inc = tmp_path / "arch" / arch / "include" / "asm"
        inc.mkdir(parents=True)
        (inc / "paravirt.h").write_text("struct pv_time_ops {\n\tunsigned long long (*steal_clock)(int cpu);\n};\n"
                                        "extern struct pv_time_ops pv_time_ops;\n")
    (tmp_path / "drivers" / "xen").mkdir(parents=True)
    (tmp_path / "drivers" / "xen" / "time.c").write_text(
        "#include <asm/paravirt.h>\nvoid __init xen_time_setup_guest(void)\n{\n"
        "\tpv_time_ops.steal_clock = xen_steal_clock;\n}\n")
    result = scan(tmp_path, jobs=1, callers=False)
    for arch in ("x86", "arm64"):
        assert impls(op(result, "pv_time_ops.steal_clock", arch)) == [("xen", "xen_steal_clock")]
    assert not [w for w in result.warnings if "several architectures" in w.message]
