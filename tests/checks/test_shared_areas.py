"""Shared areas: structs a guest and its hypervisor both read, laid out as the C compiler lays
them out, and checked against the ABI's specification (PV011)."""

import shutil
import subprocess
import sys

import pytest
from conftest import fixture_tree


class _Tree:
    """Headers of our own, read as a source reads them."""

    def __init__(self, files):
        self.files = {k: v.encode() for k, v in files.items()}

    def read(self, rel):
        from pvscan.source.files import MissingFile

        if rel not in self.files:
            raise MissingFile(f"{rel}: no such file")
        return self.files[rel]


def layout(text, tag, target="x86_64", config=None, more=None):
    from pvscan.checks.layout import struct_layout

    files = {"a.h": text, **(more or {})}
    found, problems = struct_layout(_Tree(files), list(files), tag, target, config or {})
    assert not problems
    return found


def offsets(found):
    return [(f.name, f.offset, f.size) for f in found.fields]


def test_natural_alignment_arrays_and_nesting():
    found = layout("typedef unsigned long word_t;\n"
                   "struct inner { unsigned long a; unsigned long b; };\n"
                   "struct s { __u8 p; __u8 m; word_t sel; struct inner arch; __u32 pad[3]; };\n", "s")
    assert offsets(found) == [("p", 0, 1), ("m", 1, 1), ("sel", 8, 8), ("arch", 16, 16), ("pad", 32, 12)]


def test_i386_aligns_eight_byte_integers_to_four():
    found = layout("struct s { __u32 a; __u64 b; };\n", "s", target="i386")
    assert offsets(found) == [("a", 0, 4), ("b", 4, 8)]
    assert offsets(layout("struct s { __u32 a; __u64 b; };\n", "s")) == [("a", 0, 4), ("b", 8, 8)]


def test_a_packed_struct_has_no_padding():
    found = layout("struct t { __u32 v; __u8 f; } __attribute__((__packed__));\n"
                   "struct s { __u8 a; struct t t; __u8 b; };\n", "s")
    assert offsets(found) == [("a", 0, 1), ("t", 1, 5), ("b", 6, 1)]


def test_members_under_the_target_and_configuration():
    text = "struct s {\n#ifdef __x86_64__\n\t__u64 wide;\n#else\n\t__u32 narrow;\n#endif\n\t__u8 last;\n};\n"
    assert offsets(layout(text, "s")) == [("wide", 0, 8), ("last", 8, 1)]
    assert offsets(layout(text, "s", target="i386")) == [("narrow", 0, 4), ("last", 4, 1)]


def test_what_cannot_be_sized_is_unknown_from_there_on():
    found = layout("struct s { __u8 a; struct mystery m; __u8 b; };\n", "s")
    assert offsets(found) == [("a", 0, 1), ("m", None, None), ("b", None, None)]
    assert "'struct mystery'" in found.unknown


def _abi(tmp_path, area, uses='["st.version"]', to="shared"):
    path = tmp_path / "shared.toml"
    path.write_text('[abi]\nname = "shared"\nversion = "1"\narch = "x86"\ntarget = "x86_64"\nword_bits = 64\n'
                    'register_args = 4\nbackend = "kvm"\ndescription = "d"\nsources = ["test"]\n\n' + area +
                    '\n[[mapping]]\nop = "pv_steal_clock"\nto = "' + to + '"\nuses = ' + uses + '\nsource = "t"\n')
    from pvscan.abi import load_abi

    return load_abi(str(path))


AREA = ('[[area]]\nname = "st"\nstruct = "kvm_steal_time"\nheaders = ["arch/x86/include/uapi/asm/kvm_para.h"]\n'
        'registered_by = "MSR_KVM_STEAL_TIME"\nsource = "test"\n'
        'fields = [{ name = "steal", offset = 0, size = 8 }, { name = "version", offset = 8, size = 4 }]\n')


def test_the_abi_format_declares_areas_and_what_ops_use(tmp_path):
    abi = _abi(tmp_path, AREA)
    (area,) = abi.areas
    assert (area.name, area.struct, [(f.name, f.offset, f.size) for f in area.fields]) == (
        "st", "kvm_steal_time", [("steal", 0, 8), ("version", 8, 4)])
    assert abi.mappings[0].uses == ("st.version",)
    from pvscan.errors import PvscanError

    with pytest.raises(PvscanError, match="uses 'st.nothing', which is no field"):
        _abi(tmp_path, AREA, uses='["st.nothing"]')
    with pytest.raises(PvscanError, match=r"shared.toml:\d+: \[\[area\]\] st: each field is"):
        _abi(tmp_path, AREA.replace("size = 8", "size = -8"))
    # An op through the area alone is to = "shared", which needs its fields; 'uses' goes with
    # shared or hypercall mappings, never with a native one.
    assert abi.mappings[0].to == "shared"
    with pytest.raises(PvscanError, match="names the area fields it relies on in 'uses'"):
        _abi(tmp_path, AREA, uses="[]")
    with pytest.raises(PvscanError, match="'uses' goes with"):
        _abi(tmp_path, AREA, to="native")


def test_a_member_a_macro_declares_leaves_the_rest_unknown_never_skipped():
    # lguest.h (2.6.32: 26-35): 'unsigned int irq_enabled; DECLARE_BITMAP(blocked_interrupts,
    # LGUEST_IRQS); unsigned long cr2;': cr2 is not at 4, and with no header defining LGUEST_IRQS
    # the bitmap's length is unknown (it may be any count).
    text = ("struct lguest_data {\n\tunsigned int irq_enabled;\n"
            "\tDECLARE_BITMAP(blocked_interrupts, LGUEST_IRQS);\n\tunsigned long cr2;\n};\n")
    found = layout(text, "lguest_data", target="i386")
    assert offsets(found) == [("irq_enabled", 0, 4), ("blocked_interrupts", None, None), ("cr2", None, None)]
    assert "blocked_interrupts (BITS_TO_LONGS(LGUEST_IRQS))" in found.unknown
    # A member another macro declares still leaves the rest unknown, never skipped.
    other = layout("struct s { int a; DECLARE_THING(b); int c; };\n", "s")
    assert offsets(other) == [("a", 0, 4), ("c", None, None)] and "DECLARE_THING(b)" in other.unknown


def test_a_moved_field_of_a_shared_area_is_an_error(tmp_path):
    # fixtures/gen4-named's struct kvm_steal_time, as KVM's MSR_KVM_STEAL_TIME documentation
    # lays it out; swapping version and flags moves version from 8 to 12.
    tree = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen4-named"), tree)
    cmd = [sys.executable, "-m", "pvscan", "check", str(tree), "--abi", "kvm"]
    assert "PV011" not in subprocess.run(cmd, capture_output=True, text=True).stdout
    header = tree / "arch/x86/include/uapi/asm/kvm_para.h"
    header.write_text(header.read_text().replace("\t__u32 version;\n\t__u32 flags;\n", "\t__u32 flags;\n\t__u32 version;\n"))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    (moved,) = [line for line in proc.stdout.splitlines() if "field version" in line]
    assert moved.startswith("arch/x86/include/uapi/asm/kvm_para.h:9: error: PV011 area kvm_steal_time")
    assert "registered by MSR_KVM_STEAL_TIME (0x4b564d03)" in moved
    assert "field version is at offset 12, 4 byte(s), in struct kvm_steal_time; the hypervisor has it at offset 8" in moved


@pytest.mark.kernel
def test_7_2_shared_areas_match_their_specifications_and_a_patch_that_moves_one_is_an_error(tmp_path):
    # 7.2's include/xen/interface/xen.h:531-535 'struct vcpu_info' and arch/x86/include/uapi/asm/
    # kvm_para.h:62-69 'struct kvm_steal_time' lie as Xen's public xen.h and KVM's msr.rst say.
    from conftest import kernel_path

    from pvscan.abi import load_abi
    from pvscan.checks.areas import area_findings
    from pvscan.source.directory import KernelTree

    tree = kernel_path("7.2")
    assert area_findings(KernelTree(tree), [load_abi("xen-pv"), load_abi("kvm")]) == []
    # A field inserted before evtchn_upcall_mask moves the mask Xen sets to block upcalls.
    for side in ("a", "b"):
        (tmp_path / side / "include/xen/interface").mkdir(parents=True)
        text = (tree / "include/xen/interface/xen.h").read_text()
        if side == "b":
            text = text.replace("\tuint8_t evtchn_upcall_pending;\n", "\tuint8_t evtchn_upcall_pending;\n\tuint8_t added;\n")
        (tmp_path / side / "include/xen/interface/xen.h").write_text(text)
    patch = subprocess.run(["diff", "-u", "a/include/xen/interface/xen.h", "b/include/xen/interface/xen.h"],
                           cwd=tmp_path, capture_output=True, text=True).stdout
    (tmp_path / "p.diff").write_text(patch)
    proc = subprocess.run([sys.executable, "-m", "pvscan", "review", "--tree", str(tree), "--abi", "xen-pv",
                           str(tmp_path / "p.diff")], capture_output=True, text=True)
    assert proc.returncode == 1
    # The finding stands on the line that moved the field (the one added, 532), in the diff.
    assert ("include/xen/interface/xen.h:532: ERROR: PV011 area vcpu_info (registered by VCPUOP_register_vcpu_info"
            in proc.stdout)
    assert "field evtchn_upcall_mask is at offset 2, 1 byte(s), in struct vcpu_info; the hypervisor has it at offset 1" \
        in proc.stdout
