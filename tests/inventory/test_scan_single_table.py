"""The 2.6.20-2.6.22 generation: one 'struct paravirt_ops paravirt_ops' (fixtures/gen1-single)."""

from conftest import functions, impls, op


def test_the_single_table_is_found_with_its_arch(gen1):
    (table,) = gen1.inventory.tables
    assert (table.name, table.type, table.arch, table.generation) == ("paravirt_ops", "paravirt_ops", "i386", "single")


def test_data_members_are_not_ops(gen1):
    names = {o.name for o in gen1.inventory.ops}
    assert "paravirt_ops.name" not in names
    assert "paravirt_ops.kernel_rpl" not in names
    assert "paravirt_ops.patch" in names


def test_first_member_after_ifdef_is_kept_with_its_guard(gen1):
    o = op(gen1, "paravirt_ops.apic_write", "i386")
    assert o.guard == "defined(CONFIG_PARAVIRT) && defined(CONFIG_X86_LOCAL_APIC)"
    assert o.params[0].type == "unsigned long" and o.params[0].name == "reg"


def test_else_branch_member_gets_the_negated_guard(gen1):
    assert op(gen1, "paravirt_ops.set_pte_single", "i386").guard == \
        "defined(CONFIG_PARAVIRT) && !defined(CONFIG_X86_PAE)"


def test_if_zero_member_does_not_exist(gen1):
    assert not [o for o in gen1.inventory.ops if o.name.endswith("never_built")]


def test_pointer_return_type(gen1):
    assert op(gen1, "paravirt_ops.memory_setup", "i386").return_type == "char *"


def test_macro_wrapper_is_the_wrapper_of_a_direct_call(gen1):
    o = op(gen1, "paravirt_ops.read_cr0", "i386")
    assert [(w.name, w.kind) for w in o.wrappers] == [("read_cr0", "macro")]
    assert [c.kind for c in o.call_sites] == ["call"]


def test_asm_operand_is_a_call_site(gen1):
    o = op(gen1, "paravirt_ops.save_fl", "i386")
    assert [(c.kind, c.function) for c in o.call_sites] == [("asm", "__raw_local_save_flags")]


def test_vmi_fill_macro_with_member_name_argument(gen1):
    assert functions(op(gen1, "paravirt_ops.clts", "i386"), "vmi") == ["para_fill(clts, Clts)"]
    assert functions(op(gen1, "paravirt_ops.apic_read", "i386"), "vmi") == ["para_fill(apic_read, APICRead)"]


def test_native_initializer_of_the_definition(gen1):
    assert impls(op(gen1, "paravirt_ops.set_pte", "i386")) == [("native", "native_set_pte"), ("vmi", "vmi_set_pte")]
    assert functions(op(gen1, "paravirt_ops.apic_write", "i386"), "native") == ["native_apic_write"]


def test_callers_skip_other_arches_and_comments(gen1):
    o = op(gen1, "paravirt_ops.set_pte", "i386")
    assert [(w.name, w.callers) for w in o.wrappers] == [("set_pte", 1)]
    assert [(c.path, c.function) for c in gen1.callers[("i386", "set_pte")]] == [("mm/memory.c", "install_pte")]


def test_bare_op_name_in_pvop_macro_is_a_call_site(gen1):
    # 2.6.22: 'PVOP_VCALL1(set_lazy_mode, mode)', the op a member of the struct
    # that PARAVIRT_PATCH() takes offsets in.
    o = op(gen1, "paravirt_ops.set_lazy_mode", "i386")
    assert [(c.kind, c.function) for c in o.call_sites] == [("PVOP_VCALL1", "set_lazy_mode")]


def test_paravirt_type_operand_and_asm_offsets_symbol_are_asm_sites(gen1):
    o = op(gen1, "paravirt_ops.irq_disable", "i386")
    assert sorted((c.kind, c.function) for c in o.call_sites) == [
        ("asm", "DISABLE_INTERRUPTS"), ("asm", "raw_local_irq_disable")]


def test_data_member_offset_symbol_is_no_call_site(gen1):
    assert not [o for o in gen1.inventory.ops if o.name.endswith("paravirt_enabled")]


def test_member_in_both_branches_is_one_op_with_a_signature_per_branch(gen1):
    o = op(gen1, "paravirt_ops.pte_val", "i386")
    assert o.guard == "defined(CONFIG_PARAVIRT)"
    assert [(v.guard, v.return_type) for v in o.variants] == [
        ("defined(CONFIG_PARAVIRT) && defined(CONFIG_X86_PAE)", "unsigned long long"),
        ("defined(CONFIG_PARAVIRT) && !defined(CONFIG_X86_PAE)", "unsigned long")]
    # Declared in one branch only: still under it.
    assert op(gen1, "paravirt_ops.pmd_val", "i386").guard == "defined(CONFIG_PARAVIRT) && defined(CONFIG_X86_PAE)"
    assert not [w for w in gen1.warnings if "declared twice" in w.message]


def test_a_weak_local_definition_does_not_shadow_the_wrapper(gen1):
    # setup.c's '__attribute__((weak)) memory_setup()' is the default the wrapper in paravirt.c
    # overrides at link time (2.6.22 setup.c:497-501), so its call in setup_memory_map reaches
    # the wrapper; a strong local definition would shadow it (test_scan_split_tables.py).
    (w,) = op(gen1, "paravirt_ops.memory_setup", "i386").wrappers
    assert (w.name, w.file, w.callers) == ("memory_setup", "arch/i386/kernel/paravirt.c", 1)
    assert [(c.path, c.function) for c in gen1.callers[("i386", "memory_setup")]] == [
        ("arch/i386/kernel/setup.c", "setup_memory_map")]
