"""derive-abi through assembly and shared areas: the macros that size an area, the .S glue,
the globals a backend hands to its hypervisor, and the ops that use them."""

import shutil

from conftest import fixture_tree, pvscan
from test_shared_areas import layout


def bounds(text, definitions, word_bits=32):
    from pvscan.checks.constexpr import Evaluator

    return Evaluator({k: [(None, v)] if isinstance(v, str) else v for k, v in definitions.items()},
                     word_bits).exact(text)


def test_a_macro_min_of_an_unknown_count_is_exact_when_every_choice_agrees():
    # lguest_hcall.h's '#define LGUEST_IRQS (NR_IRQS < 32 ? NR_IRQS: 32)' with NR_IRQS defined
    # two ways under #if: the bitmap is one long whichever holds.
    defs = {"LGUEST_IRQS": "(NR_IRQS < 32 ? NR_IRQS: 32)",
            "NR_IRQS": [(None, "NR_IRQS_LEGACY + NR_DYNAMIC_IRQS"), (None, "(NR_VECTORS + 4*NR_CPUS)")],
            "NR_IRQS_LEGACY": "16", "NR_DYNAMIC_IRQS": "256", "NR_VECTORS": "256"}
    assert bounds("LGUEST_IRQS", defs) == 32
    assert bounds("BITS_TO_LONGS(LGUEST_IRQS)", defs) == 1
    assert bounds("BITS_TO_LONGS(LGUEST_IRQS)", defs, 64) == 1
    assert bounds("NR_IRQS", defs) is None                  # 272, or 256 + 4 * any NR_CPUS
    assert bounds("NR_CPUS", {}) is None                    # a Kconfig number: any count
    assert bounds("DIV_ROUND_UP(100, 8) * 2 + (1 ? 3 : 4)", {}) == 29
    assert bounds("sizeof(long)", {}) is None               # a type's size is not a macro's


def test_declare_bitmap_and_macro_sized_arrays_lay_out():
    text = """
#include "irqs.h"
struct area {
    unsigned int enabled;
    DECLARE_BITMAP(blocked, AREA_IRQS);
    unsigned long cr2;
    unsigned char status[RING];
    unsigned long last;
};
"""
    irqs = "#define AREA_IRQS (NR_IRQS < 32 ? NR_IRQS : 32)\n#define NR_IRQS 64\n#define RING 64\n"
    area = layout(text, "area", "i386", more={"irqs.h": irqs})
    assert [(f.name, f.offset, f.size) for f in area.fields] == [
        ("enabled", 0, 4), ("blocked", 4, 4), ("cr2", 8, 4), ("status", 12, 64), ("last", 76, 4)]
    assert area.unknown is None


def test_an_include_the_target_rules_out_is_not_read():
    # Xen's asm/xen/interface.h includes interface_32.h only under CONFIG_X86_32: its
    # arch_vcpu_info (cr2 and pad[5]) must not size x86_64's.
    text = '#include "iface.h"\nstruct vcpu_info { unsigned char pending; struct arch_vcpu_info arch; long t; };\n'
    iface = '#ifdef CONFIG_X86_32\n#include "iface_32.h"\n#else\n#include "iface_64.h"\n#endif\n'
    from test_shared_areas import _Tree

    from pvscan.checks.layout import struct_layout

    tree = _Tree({"a.h": text, "iface.h": iface,
                  "iface_32.h": "struct arch_vcpu_info { unsigned long cr2; unsigned long pad[5]; };\n",
                  "iface_64.h": "struct arch_vcpu_info { unsigned long cr2; unsigned long pad; };\n"})
    # Only a.h is named: the rest is read because a.h leaves arch_vcpu_info unknown.
    assert struct_layout(tree, ["a.h"], "vcpu_info", "x86_64", {})[0].field("t").offset == 24
    assert struct_layout(tree, ["a.h"], "vcpu_info", "i386", {})[0].field("t").offset == 28


def _lguest_like(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(fixture_tree("gen2-split"), tree)
    (tree / "include/linux").mkdir(parents=True)
    (tree / "include/linux/lguest.h").write_text(
        "struct lguest_data {\n\tunsigned int irq_enabled;\n\tint irq_pending;\n\tunsigned long cr2;\n};\n"
        "extern struct lguest_data lguest_data;\n")
    (tree / "arch/x86/lguest/boot.c").write_text("""/* Fixture: lguest-like glue through a shared page. */
#include <asm/paravirt.h>
#include <linux/lguest.h>

struct lguest_data lguest_data;

static unsigned long save_fl(void)
{
	return lguest_data.irq_enabled;
}

static unsigned long lguest_read_cr2(void)
{
	return lguest_data.cr2;
}

static void lguest_set_pte(pte_t *ptep, pte_t pte)
{
	struct lguest_data *mine = &lguest_data;
	hcall(LHCALL_SET_PTE, mine->cr2, 0, 0);
}

extern void lg_irq_disable(void);

__init void lguest_init(void)
{
	pv_irq_ops.save_fl = PV_CALLEE_SAVE(save_fl);
	pv_irq_ops.irq_disable = __PV_IS_CALLEE_SAVE(lg_irq_disable);
	pv_mmu_ops.read_cr2 = lguest_read_cr2;
	pv_mmu_ops.set_pte = lguest_set_pte;
}
""")
    (tree / "arch/x86/lguest/head.S").write_text("""/* Fixture: the assembly half. */
ENTRY(lguest_entry)
	movl $LHCALL_LGUEST_INIT, %eax
	movl $lguest_data - __PAGE_OFFSET, %ebx
	.byte 0x0f,0x01,0xc1 /* KVM_HYPERCALL */
	jmp lguest_init

ENTRY(lg_irq_disable)
	movl $0, lguest_data+LGUEST_DATA_irq_enabled
	testl $0, lguest_data+LGUEST_DATA_irq_pending
	jnz send_interrupts
	ret
send_interrupts:
	pushl %eax
	movl $LHCALL_SEND_INTERRUPTS, %eax
	.byte 0x0f,0x01,0xc1
	popl %eax
	ret
""")
    (tree / "arch/x86/kernel/asm-offsets_32.c").write_text(
        "void foo(void)\n{\n\tOFFSET(LGUEST_DATA_irq_enabled, lguest_data, irq_enabled);\n"
        "\tOFFSET(LGUEST_DATA_irq_pending, lguest_data, irq_pending);\n}\n")
    return tree


def test_derive_abi_follows_assembly_and_maps_ops_to_the_area_the_glue_hands_over(tmp_path):
    tree = _lguest_like(tmp_path)
    out = tmp_path / "derived.toml"
    run = pvscan("derive-abi", "lguest", str(tree), "-o", str(out))
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    # Handed over by the assembly: lguest_data moved into %ebx before the LGUEST_INIT vmcall.
    assert 'registered_by = "lguest_init in lguest_entry (arch/x86/lguest/head.S:5, handing over lguest_data)"' in text
    assert ('fields = [\n    { name = "irq_enabled", offset = 0, size = 4 },\n'
            '    { name = "irq_pending", offset = 4, size = 4 },\n'
            '    { name = "cr2", offset = 8, size = 8 },\n]') in text      # x86_64: nothing ties it to i386
    assert ('op = "pv_irq_ops.save_fl"\nto = "shared"\nuses = ["lguest_data.irq_enabled"]\n') in text
    assert ('op = "pv_mmu_ops.read_cr2"\nto = "shared"\nuses = ["lguest_data.cr2"]\n') in text
    # The jump to a label of the file is followed to the hypercall; the asm-offsets are the fields.
    assert ('op = "pv_irq_ops.irq_disable"\nto = "hypercall"\nhypercalls = ["send_interrupts"]\n'
            'uses = ["lguest_data.irq_enabled", "lguest_data.irq_pending"]\n'
            'source = "lg_irq_disable > vmcall"') in text
    # A member's value passed to a hypercall hands no area over; the access through a local
    # pointer of the area's type is a use.
    assert ('op = "pv_mmu_ops.set_pte"\nto = "hypercall"\nhypercalls = ["set_pte"]\n'
            'uses = ["lguest_data.cr2"]\n') in text
    assert text.count("[[area]]") == 1
    check = pvscan("check", str(tree), "--abi", str(out))
    assert "PV011" not in check.stdout + check.stderr          # the tree agrees with what it derived


def test_derive_abi_refuses_an_architecture_the_backend_has_no_glue_on(tmp_path):
    run = pvscan("derive-abi", "lguest", str(fixture_tree("gen2-split")), "--arch", "riscv")
    assert run.returncode == 2
    assert "no glue on riscv" in run.stderr


def test_lguest_on_2_6_32_derives_at_least_30_mapped_ops(tmp_path):
    # arch/x86/lguest/boot.c 2.6.32: save_fl (229) and irq_disable (235) work on
    # lguest_data.irq_enabled, lguest_read_cr2 (516) on lguest_data.cr2; i386_head.S: lg_irq_enable
    # and lg_restore_fl write lguest_data+LGUEST_DATA_irq_enabled and vmcall with
    # LHCALL_SEND_INTERRUPTS; lguest_entry moves $lguest_data into %ebx before LHCALL_LGUEST_INIT.
    # include/linux/lguest.h: irq_enabled (unsigned int), then DECLARE_BITMAP(blocked_interrupts,
    # LGUEST_IRQS) with LGUEST_IRQS at most 32 (lguest_hcall.h:49): cr2 at 8 on i386.
    from conftest import old_kernel_path

    text = pvscan("derive-abi", "lguest", str(old_kernel_path("2.6.32"))).stdout
    mapped = text.count('to = "hypercall"') + text.count('to = "shared"')
    assert mapped >= 30
    assert 'registered_by = "lguest_init in lguest_entry (arch/x86/lguest/i386_head.S' in text
    assert '{ name = "irq_enabled", offset = 0, size = 4 }' in text
    assert '{ name = "cr2", offset = 8, size = 4 }' in text
    assert 'op = "pv_mmu_ops.read_cr2"\nto = "shared"\nuses = ["lguest_data.cr2"]' in text
    assert 'op = "pv_irq_ops.save_fl"\nto = "shared"\nuses = ["lguest_data.irq_enabled"]' in text
    assert 'op = "pv_cpu_ops.iret"\nto = "shared"\nuses = ["lguest_data.irq_enabled"]' in text
    assert ('op = "pv_irq_ops.restore_fl"\nto = "hypercall"\nhypercalls = ["send_interrupts"]\n'
            'uses = ["lguest_data.irq_enabled", "lguest_data.irq_pending"]') in text


def test_xen_on_6_12_derives_its_irq_ops_through_vcpu_info():
    # arch/x86/xen/xen-asm.S: xen_save_fl_direct tests PER_CPU_VAR(xen_vcpu_info +
    # XEN_vcpu_info_mask), asm-offsets.c:65 OFFSET(XEN_vcpu_info_mask, vcpu_info,
    # evtchn_upcall_mask); enlighten.c: xen_vcpu_setup hands &per_cpu(xen_vcpu_info, cpu) over with
    # VCPUOP_register_vcpu_info. Xen's public xen.h: vcpu_info is 64 bytes, time at 32.
    from conftest import kernel_path

    text = pvscan("derive-abi", "xen", str(kernel_path("6.12"))).stdout
    assert 'registered_by = "vcpu_op in xen_vcpu_setup (arch/x86/xen/enlighten.c:' in text
    assert '{ name = "evtchn_upcall_mask", offset = 1, size = 1 }' in text
    assert '{ name = "time", offset = 32, size = 32 }' in text
    assert 'op = "irq.save_fl"\nto = "shared"\nuses = ["vcpu_info.evtchn_upcall_mask"]' in text
    assert 'op = "irq.irq_disable"\nto = "shared"\nuses = ["vcpu_info.evtchn_upcall_mask"]' in text


def test_kvm_on_7_2_derives_steal_time_from_its_msr():
    # arch/x86/kernel/kvm.c (7.2): kvm_register_steal_time does
    # 'wrmsrq(MSR_KVM_STEAL_TIME, (slow_virt_to_phys(st) | KVM_MSR_ENABLED))' with
    # st = &per_cpu(steal_time, cpu); kvm_steal_clock reads src->version and src->steal.
    from conftest import kernel_path

    text = pvscan("derive-abi", "kvm", str(kernel_path("7.2"))).stdout
    assert "msr:MSR_KVM_STEAL_TIME in kvm_register_steal_time" in text
    assert 'op = "pv_steal_clock"\nto = "shared"\nuses = ["kvm_steal_time.steal", "kvm_steal_time.version"]' in text


def test_a_file_name_with_a_newline_or_a_quote_stays_one_toml_string():
    import tomllib

    from pvscan.checks.derive import _q

    name = 'arch/x86/xen/new\nline "q" \\ \x1b.c'
    assert "\n" not in _q(name) and tomllib.loads(f"x = {_q(name)}")["x"] == name
