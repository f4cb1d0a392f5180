"""VMI's and lguest's ABIs read against every release of their eras a tree could be had for.

The bundled vmi.toml and lguest.toml state, mapping by mapping, the kernels each holds for. These
tests check each range against the releases between its ends (tests/conftest.py OLD_MIRRORS names
the trees; they skip where the tree is not in the cache, as in CI). Every fact pinned here was read
in the release's own source."""

import pytest
from conftest import old_kernel_path

VMI_ERA = ["2.6.21", "2.6.22", "2.6.23", "2.6.24", "2.6.26", "2.6.27", "2.6.28", "2.6.29", "2.6.30", "2.6.31",
           "2.6.32", "2.6.33", "2.6.34", "2.6.35", "2.6.36"]
LGUEST_ERA = ["2.6.23", "2.6.24", "2.6.26", "2.6.27", "2.6.28", "2.6.29", "2.6.30", "2.6.31", "2.6.32", "2.6.33",
              "2.6.34", "2.6.35", "2.6.36", "3.10", "3.18", "4.4", "4.8", "4.9", "4.10", "4.11", "4.12", "4.13"]


def _check(version, abi):
    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    tree = KernelTree(old_kernel_path(version))
    result = scan(tree, callers=False)
    checked, _ = check_tree(tree, result.inventory, [load_abi(abi)], trace_glue=True, version=result.version)
    return [(f.code, f.op) for f in checked.findings if f.severity != "note"]


@pytest.mark.parametrize("version", VMI_ERA)
def test_vmi_holds_for_every_release_of_its_era(version):
    found = _check(version, "vmi")
    if version == "2.6.26":
        # arch/x86/kernel/vmi_32.c (2.6.26) :233-238 vmi_write_ldt_entry calls
        # vmi_ops.write_idt_entry, a bug of that release (2.6.27's :238 calls write_ldt_entry):
        # the ABI is right and the glue is not, and the trace says so.
        assert found == [("PV009", "pv_cpu_ops.write_ldt_entry")]
    else:
        assert found == []


@pytest.mark.parametrize("version", LGUEST_ERA)
def test_lguest_holds_for_every_release_of_its_era(version):
    assert _check(version, "lguest") == []


def test_lguest_irq_enable_became_a_hypercall_in_2_6_31():
    # boot.c (2.6.30): 'static void irq_enable(void) { lguest_data.irq_enabled = X86_EFLAGS_IF; }';
    # 2.6.31 moves it to i386_head.S (lg_irq_enable), which tests lguest_data.irq_pending and makes
    # LHCALL_SEND_INTERRUPTS (19, new in 2.6.31's lguest_hcall.h).
    from pvscan.abi import load_abi
    from pvscan.checks.check import chosen_mappings
    from pvscan.identity import OpIndex, ops_for_arch
    from pvscan.pipeline import scan

    lguest = load_abi("lguest")
    for version, to, uses in (("2.6.30", "shared", ("lguest_data.irq_enabled",)),
                              ("2.6.31", "hypercall", ("lguest_data.irq_enabled", "lguest_data.irq_pending"))):
        result = scan(old_kernel_path(version), callers=False)
        index = OpIndex(ops_for_arch(result.inventory.ops, "x86", result.inventory.homes))
        chosen, _ = chosen_mappings(lguest, index, (2, 6, int(version.split(".")[2])))
        mapping = chosen["pv_irq_ops.irq_enable"]
        assert (mapping.to, mapping.uses) == (to, uses)


def test_lguest_data_grew_and_tsc_khz_moved():
    # include/linux/lguest.h: after irq_enabled (u32), the one-long bitmap, cr2 and struct timespec
    # time, 2.6.23 has u8 hcall_status[64], struct hcall_ring hcalls[64] (four u32, 16 bytes each),
    # reserve_mem and u16 guestid before u32 tsc_khz: 20 + 64 + 1024 + 4 + 2, aligned to 4 = 1116.
    # 2.6.24-2.6.30: struct hcall_args of four longs and no guestid: 20 + 64 + 1024 + 4 = 1112.
    # 2.6.31 inserts int irq_pending after time and gives hcall_args a fifth long:
    # 24 + 64 + 1280 + 4 = 1372.
    from pvscan.checks.layout import struct_layout
    from pvscan.source.directory import KernelTree

    for version, tsc_khz, irq_pending in (("2.6.23", 1116, None), ("2.6.30", 1112, None), ("2.6.31", 1372, 20),
                                          ("4.13", 1372, 20)):
        layout, _ = struct_layout(KernelTree(old_kernel_path(version)), ["include/linux/lguest.h"], "lguest_data",
                                  "i386", {})
        assert layout.unknown is None
        assert layout.field("tsc_khz").offset == tsc_khz
        assert (layout.field("irq_pending").offset if layout.field("irq_pending") else None) == irq_pending
        assert (layout.field("cr2").offset, layout.field("time").offset) == (8, 12)


def test_lguest_renumbered_set_pmd_in_2_6_31():
    # lguest_hcall.h (2.6.30): LHCALL_SET_PMD 15; (2.6.31): LHCALL_SET_PMD 13, LHCALL_SET_PGD 15.
    from pvscan.abi import load_abi

    lguest = load_abi("lguest")
    assert lguest.hypercall("set_pmd", (2, 6, 30)).number == 15
    assert lguest.hypercall("set_pmd", (2, 6, 31)).number == 13
    assert lguest.hypercall("set_pgd", (2, 6, 31)).number == 15
