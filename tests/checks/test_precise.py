"""Precise mode: type sizes from libclang under a target configuration, or one line and the table."""

import pytest
from conftest import fixture_tree, pvscan

GEN3 = str(fixture_tree("gen3-unified"))


def test_without_kernel_headers_only_resolved_types_count():
    # The fixture has no include/linux/types.h: builtin types and pointers resolve,
    # kernel typedefs such as pte_t do not, and keep their table size.
    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    got = sizes_for(KernelTree(GEN3), "arch/x86/include/asm/paravirt_types.h", "x86",
                    ["pte_t", "unsigned long", "u8 *"], "x86_64")
    assert got.sizes == {"unsigned long": 64}     # u8 and pte_t are not declared without kernel headers
    plain = pvscan("check", GEN3, "--abi", "xen-pv", "--fail-on", "never", "--format", "json")
    precise = pvscan("check", GEN3, "--abi", "xen-pv", "--fail-on", "never", "--format", "json", "--precise")
    assert precise.returncode == 0 and precise.stdout == plain.stdout


def test_without_libclang_one_line_and_the_table(monkeypatch):
    import sys

    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    monkeypatch.setitem(sys.modules, "clang.cindex", None)
    got = sizes_for(KernelTree(GEN3), "arch/x86/include/asm/paravirt_types.h", "x86", ["pte_t"], "x86_64")
    assert got.sizes == {} and got.problem.startswith("libclang is not installed")


# Read in 6.12's arch/x86/include/asm: pgtable_64_types.h 'typedef unsigned long pteval_t',
# pgtable-2level_types.h 'typedef unsigned long pteval_t', pgtable-3level_types.h
# 'typedef u64 pteval_t'; desc_defs.h 'typedef struct gate_struct gate_desc' (16 bytes on
# x86-64); include/linux/types.h: phys_addr_t is u64 with CONFIG_PHYS_ADDR_T_64BIT.

@pytest.mark.kernel
@pytest.mark.parametrize("target, expected", [
    ("x86_64", {"pte_t": 64, "phys_addr_t": 64, "unsigned long": 64, "gate_desc": 128, "struct desc_struct *": 64}),
    ("i386-pae", {"pte_t": 64, "phys_addr_t": 64, "unsigned long": 32, "gate_desc": 64, "struct desc_struct *": 32}),
    ("i386", {"pte_t": 32, "phys_addr_t": 32, "unsigned long": 32, "gate_desc": 64, "struct desc_struct *": 32}),
])
def test_6_12_sizes_per_target(target, expected):
    from conftest import kernel_path

    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    got = sizes_for(KernelTree(kernel_path("6.12")), "arch/x86/include/asm/paravirt_types.h", "x86",
                    list(expected), target)
    assert got.problem is None
    assert got.sizes == expected


@pytest.mark.kernel
def test_a_config_file_decides(tmp_path):
    from conftest import kernel_path

    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    config = tmp_path / ".config"
    config.write_text("CONFIG_X86_32=y\nCONFIG_X86_PAE=y\nCONFIG_PHYS_ADDR_T_64BIT=y\nCONFIG_PGTABLE_LEVELS=3\n"
                      "CONFIG_PAGE_SHIFT=12\nCONFIG_PARAVIRT=y\nCONFIG_PARAVIRT_XXL=y\nCONFIG_NR_CPUS=8\n"
                      "# CONFIG_SMP is not set\nCONFIG_X86_L1_CACHE_SHIFT=6\n")
    got = sizes_for(KernelTree(kernel_path("6.12")), "arch/x86/include/asm/paravirt_types.h", "x86",
                    ["pte_t", "phys_addr_t"], "i386", str(config))
    assert got.sizes == {"pte_t": 64, "phys_addr_t": 64} and got.config == str(config)


@pytest.mark.kernel
def test_precise_check_on_6_12_agrees_with_the_table():
    from conftest import kernel_path

    tree = str(kernel_path("6.12"))
    args = ("check", tree, "--abi", "vmi", "--abi", "xen-pv", "--fail-on", "never", "--format", "json")
    precise = pvscan(*args, "--precise")
    assert "type sizes from libclang (default configuration)" in precise.stderr
    import json
    strip = lambda out: [(f["code"], f["op"], f["abi"]) for f in json.loads(out)["findings"]]
    assert strip(precise.stdout) == strip(pvscan(*args).stdout)


def _tree_with_headers(tmp_path):
    import shutil

    tree = tmp_path / "linux"
    shutil.copytree(GEN3, tree)
    (tree / "include" / "linux").mkdir(parents=True, exist_ok=True)
    (tree / "include" / "linux" / "types.h").write_text(
        "typedef unsigned long long u64;\n"
        "#ifdef CONFIG_PHYS_ADDR_T_64BIT\ntypedef u64 phys_addr_t;\n#else\ntypedef unsigned int phys_addr_t;\n#endif\n")
    (tree / "include" / "linux" / "kconfig.h").write_text("#include <generated/autoconf.h>\n")
    return tree


def test_compile_commands_json_flags_are_used(tmp_path):
    import json as _json

    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    tree = _tree_with_headers(tmp_path)
    default = sizes_for(KernelTree(tree), "arch/x86/include/asm/paravirt_types.h", "x86", ["phys_addr_t"], "i386")
    assert default.sizes == {"phys_addr_t": 32} and default.config == "default"
    (tree / "compile_commands.json").write_text(_json.dumps([{
        "directory": str(tree), "file": str(tree / "arch/x86/kernel/paravirt.c"),
        "arguments": ["gcc", "-m32", "--target=i386-linux-gnu", "-nostdinc", "-Iinclude", "-Iarch/x86/include",
                      "-D__KERNEL__", "-DCONFIG_PHYS_ADDR_T_64BIT=1", "-c", "-o", "paravirt.o",
                      "arch/x86/kernel/paravirt.c"]}]))
    built = sizes_for(KernelTree(tree), "arch/x86/include/asm/paravirt_types.h", "x86", ["phys_addr_t"], "i386")
    assert built.config == "compile_commands.json" and built.sizes == {"phys_addr_t": 64}


def test_libclang_catches_a_signature_tree_sitter_cannot_see(tmp_path):
    tree = _tree_with_headers(tmp_path)
    types_h = tree / "arch/x86/include/asm/paravirt_types.h"
    types_h.write_text(types_h.read_text().replace(
        "\tvoid (*flush_tlb_user)(void);",
        "#define FLUSH_ARGS unsigned long start, unsigned long end\n\tvoid (*flush_tlb_user)(FLUSH_ARGS);"))
    proc = pvscan("check", str(tree), "--abi", "xen-pv", "--precise", "--fail-on", "never")
    assert "pvscan: warning: precise (x86_64): mmu.flush_tlb_user: tree-sitter read 1 parameters, libclang 2" \
        in proc.stderr


def test_precise_mode_never_writes_into_the_tree(tmp_path):
    import shutil

    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    tree = tmp_path / "linux"
    shutil.copytree(GEN3, tree)          # no include/linux/kconfig.h: the forced -include is missing
    before = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    sizes_for(KernelTree(tree), "arch/x86/include/asm/paravirt_types.h", "x86", ["unsigned long"], "x86_64")
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*")) == before


def _kvm_fixture(tmp_path, with_types):
    import shutil

    tree = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen4-named"), tree)
    if with_types:
        (tree / "include/linux").mkdir(parents=True, exist_ok=True)
        (tree / "include/linux/types.h").write_text(
            "typedef unsigned char __u8; typedef unsigned int __u32; typedef unsigned long long __u64;\n"
            "typedef __u8 u8; typedef signed char s8; typedef __u32 u32; typedef __u64 u64;\n")
    return tree


def test_precise_lays_areas_out_with_libclang_and_a_moved_field_is_an_error(tmp_path):
    tree = _kvm_fixture(tmp_path, with_types=True)
    run = pvscan("check", str(tree), "--abi", "kvm", "--precise")
    assert "3 of 3 shared areas laid out by libclang" in run.stderr
    assert "PV011" not in run.stdout and "is at" not in run.stderr    # libclang and pvscan agree
    header = tree / "arch/x86/include/uapi/asm/kvm_para.h"
    header.write_text(header.read_text().replace("\t__u32 version;\n\t__u32 flags;\n",
                                                 "\t__u32 flags;\n\t__u32 version;\n"))
    run = pvscan("check", str(tree), "--abi", "kvm", "--precise")
    assert run.returncode == 1
    assert "field version is at offset 12, 4 byte(s), in struct kvm_steal_time; the hypervisor has it at offset 8" \
        in run.stdout


def test_precise_never_lays_out_a_struct_libclang_could_not_read(tmp_path):
    # Without linux/types.h, __u64 is an unknown type: clang drops or recovers the member, so
    # its layout would lie. pvscan's own reading stands, and no field is said to be missing.
    tree = _kvm_fixture(tmp_path, with_types=False)
    run = pvscan("check", str(tree), "--abi", "kvm", "--precise")
    assert "0 of 3 shared areas laid out by libclang" in run.stderr
    assert "PV011" not in run.stdout


@pytest.mark.kernel
def test_precise_areas_of_6_12():
    # Documentation/virt/kvm/x86/msr.rst (MSR_KVM_STEAL_TIME): __u64 steal, __u32 version, __u32 flags,
    # __u8 preempted; Xen's public xen.h: vcpu_info's evtchn_upcall_mask at 1 and its time at 32
    # on x86-64 (arch_vcpu_info is cr2 and pad, 16 bytes).
    from conftest import kernel_path

    from pvscan.checks.precise import sizes_for
    from pvscan.source.directory import KernelTree

    got = sizes_for(KernelTree(kernel_path("6.12")), "arch/x86/include/asm/paravirt_types.h", "x86", [], "x86_64",
                    areas=[("kvm_steal_time", ("arch/x86/include/uapi/asm/kvm_para.h",)),
                           ("vcpu_info", ("include/xen/interface/xen.h",))])
    steal = {name: (offset, size) for name, offset, size in got.layouts["kvm_steal_time"][2]}
    assert (steal["steal"], steal["version"], steal["flags"], steal["preempted"]) == ((0, 8), (8, 4), (12, 4), (16, 1))
    vcpu = {name: (offset, size) for name, offset, size in got.layouts["vcpu_info"][2]}
    assert (vcpu["evtchn_upcall_mask"], vcpu["time"]) == ((1, 1), (32, 32))
