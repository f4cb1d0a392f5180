"""A skeleton ABI file from what the glue does: `pvscan derive-abi BACKEND PATH`.

Hypercall numbers come from the tree's own definitions (NUMBER_SOURCES), Xen's
argument counts from its _hypercallN wrappers; what the tree does not say
is left for a person to fill in, and says so.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pvscan.identity import same_arch
from pvscan.source.files import SkippedFile

if TYPE_CHECKING:
    from pvscan.checks.sharedmem import DerivedAreas
    from pvscan.inventory.model import Inventory
    from pvscan.source import Source


# Where each hypervisor's hypercall numbers are defined, in the tree: a documented table.
NUMBER_SOURCES = (
    ("include/xen/interface/xen.h", r"#define\s+__HYPERVISOR_(\w+)\s+(\d+)", str),
    ("include/uapi/linux/kvm_para.h", r"#define\s+KVM_HC_(\w+)\s+(\d+)", str.lower),
    ("include/hyperv/hvgdk_mini.h", r"#define\s+HVCALL_(\w+)\s+(0x[0-9a-fA-F]+|\d+)", str.lower),
    ("include/asm-generic/hyperv-tlfs.h", r"#define\s+HVCALL_(\w+)\s+(0x[0-9a-fA-F]+|\d+)", str.lower),
    ("arch/x86/include/asm/lguest_hcall.h", r"#define\s+LHCALL_(\w+)\s+(\d+)", str.lower),
    ("arch/x86/include/asm/vmi.h", r"#define\s+VMI_CALL_(\w+)\s+(\d+)", str),
    ("arch/x86/include/asm/vmi_time.h", r"#define\s+VMI_CALL_(\w+)\s+(\d+)", str),
    ("include/asm-i386/vmi.h", r"#define\s+VMI_CALL_(\w+)\s+(\d+)", str),
    ("include/asm-i386/vmi_time.h", r"#define\s+VMI_CALL_(\w+)\s+(\d+)", str),
)
XEN_ARITY = ("arch/x86/include/asm/xen/hypercall.h", r"_hypercall(\d)\(\s*[^,]+,\s*(\w+)")


def _numbers(tree: Source) -> tuple[dict[str, tuple[int, str]], dict[str, int]]:
    """({hypercall: (its number, the header that gives it)}, {Xen hypercall: its arity})."""
    numbers: dict[str, tuple[int, str]] = {}
    arity: dict[str, int] = {}
    for path, pattern, fold in NUMBER_SOURCES:
        try:
            text = tree.read(path).decode("utf-8", "replace")
        except SkippedFile:
            continue
        for name, value in re.findall(pattern, text):
            numbers.setdefault(fold(name), (int(value, 0), path))
    try:
        text = tree.read(XEN_ARITY[0]).decode("utf-8", "replace")
        for n, name in re.findall(XEN_ARITY[1], text):
            arity.setdefault(name, int(n))
    except SkippedFile:
        pass
    return numbers, arity


def _q(text: str) -> str:
    """A TOML basic string: a file name with a quote, a newline or another control character
    stays one string on one line."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7f else c for c in escaped) + '"'


# What each x86 target fixes in the configuration the glue is read under.
TARGET_CONFIG = {
    "i386": {"CONFIG_X86_32": True, "CONFIG_X86_64": False, "CONFIG_X86_PAE": False},
    "i386-pae": {"CONFIG_X86_32": True, "CONFIG_X86_64": False, "CONFIG_X86_PAE": True},
    "x86_64": {"CONFIG_X86_32": False, "CONFIG_X86_64": True, "CONFIG_X86_PAE": False},
}
# The 64-bit target of each architecture whose glue is not x86's (checks.layout knows these).
_TARGETS = {"arm64": "arm64", "riscv": "riscv64", "loongarch": "loongarch64"}


def backend_target(tree: Source, inventory: Inventory, backend: str, pae: bool, arch: str = "x86") -> tuple[str, str]:
    """(target, why): the target the backend is built for. Outside x86, the architecture's
    (_TARGETS). On x86: i386 when its files sit in arch/i386, or when Kbuild builds them under an
    option the tree's Kconfig lets exist only with X86_32 (CONFIG_VMI, CONFIG_LGUEST_GUEST);
    i386-pae when its glue binds calls under CONFIG_X86_PAE; else x86_64, and why says that
    nothing tied it to i386."""
    from pvscan.kconfig import LazyGuardLogic

    if not same_arch(arch, "x86"):     # (2.6.2x's arch/i386 and arch/x86_64 are x86)
        return _TARGETS.get(arch, arch), f"its glue is arch/{arch}'s"
    pae_note = ", with PAE (its glue binds calls under CONFIG_X86_PAE)" if pae else ""
    files = sorted({f for (a, b), fs in inventory.backends.items() if b == backend and same_arch(a, arch) for f in fs})
    i386_file = next((f for f in files if f.startswith(("arch/i386/", "include/asm-i386/"))), None)
    if i386_file:
        return ("i386-pae" if pae else "i386"), f"its files are in arch/i386 ({i386_file}){pae_note}"
    guards = LazyGuardLogic(tree)
    read = False
    try:
        logic = guards.for_arch(arch)
        read = logic is not None
        for f in files:
            built = guards.built_when(f)
            option = re.match(r"^defined\(CONFIG_(\w+)\)$", built or "")
            if logic is not None and option and "X86_32" in logic.needs.get(option.group(1), ()):
                return ("i386-pae" if pae else "i386"), (
                    f"{f} is built under CONFIG_{option.group(1)}, which the tree's Kconfig allows only "
                    f"with X86_32{pae_note}")
    finally:
        guards.close()
    if not read:
        return "x86_64", "assumed: the tree's Kconfig could not be read, so nothing tied the backend to i386"
    return "x86_64", "no option its files are built under needs X86_32 in the tree's Kconfig"


def skeleton(tree: Source, inventory: Inventory, backend: str, derived: dict, files: list[str], pae: bool = False,
             areas: DerivedAreas | None = None, arch: str = "x86") -> str:
    """The skeleton ABI file. areas: sharedmem.DerivedAreas of the glue, when read."""
    numbers, arity = _numbers(tree)
    target, why = backend_target(tree, inventory, backend, pae, arch)
    word_bits = 32 if target.startswith("i386") else 64
    used = sorted({r.hypercall for reaches in derived.values() for r in reaches})
    out = [f"# Skeleton ABI derived by pvscan from the {backend} backend of Linux {tree.version}.",
           "# Check every entry against the hypervisor's interface before relying on it:",
           "# lines marked FILL IN are what the tree does not say.", "",
           "[abi]", f'name = "{backend}-derived"', f'version = "derived from Linux {tree.version}"',
           f'arch = "{arch}"', f'target = "{target}"   # {why}', f"word_bits = {word_bits}",
           "register_args = 0   # FILL IN: how many arguments fit in registers",
           f'backend = "{backend}"',
           f'description = {_q(f"Derived from the call chains of the {backend} backend; see sources.")}',
           "sources = [", f"    {_q(f'pvscan derive-abi over {len(files)} files: ' + ', '.join(files[:6]) + (' ...' if len(files) > 6 else ''))},",
           "]", ""]
    spare = 100000
    for name in used:
        if name.startswith("msr:") or name == "vmcall":
            continue
        number, where = numbers.get(name, (None, None))
        if number is None:
            spare += 1
            number_line = f"number = {spare}   # FILL IN: not defined in the tree"
        else:
            number_line = f"number = {number}"
        n = arity.get(name)
        args_line = (f"args = [{', '.join([str(word_bits)] * n)}]" if n is not None
                     else "args = []   # FILL IN: argument widths")
        out += ["[[hypercall]]", f'name = "{name}"', number_line, args_line,
                "clobbers = true   # FILL IN", f"source = {_q(where or 'derived from the call chains')}", ""]
    laid = _area_tables(tree, areas, target, out) if areas is not None else {}
    declared = {n for n in used if not n.startswith("msr:") and n != "vmcall"}
    for op in sorted(derived):
        reaches = [r for r in derived[op] if r.hypercall in declared]
        touched = areas.uses.get(op, []) if areas is not None else []
        uses = [f"{tag}.{member}" for tag, member in touched if member in laid.get(tag, ())]
        unplaced = [f"{tag}.{member}" for tag, member in touched if member not in laid.get(tag, ())]
        uses_lines = ["uses = [" + ", ".join(_q(u) for u in uses) + "]"] if uses else []
        if unplaced:
            uses_lines.append(f"# FILL IN: also touches {', '.join(unplaced)}, whose offset the tree's headers "
                              f"do not fix for {target}")
        if reaches:
            chain = "; ".join(" > ".join(s.function for s in r.chain) for r in reaches)
            out += ["[[mapping]]", f'op = "{op}"', 'to = "hypercall"',
                    "hypercalls = [" + ", ".join(_q(n) for n in sorted({r.hypercall for r in reaches})) + "]",
                    *uses_lines, f"source = {_q(chain)}", ""]
        elif uses:
            out += ["[[mapping]]", f'op = "{op}"', 'to = "shared"', *uses_lines,
                    f"source = {_q('the ' + backend + ' implementation touches ' + ', '.join(uses) + ' and reaches no hypercall')}",
                    ""]
        else:
            out += ["[[mapping]]", f'op = "{op}"', 'to = "native"   # FILL IN: no hypercall reached in the traced files',
                    *uses_lines, f"source = {_q('no hypercall primitive reached from the ' + backend + ' implementation')}", ""]
    return "\n".join(out)


def _area_tables(tree: Source, areas: DerivedAreas, target: str, out: list) -> dict:
    """Append an [[area]] table for each area some op touches, its fields laid out from the
    tree's header for the target; {struct tag: the members given an offset}."""
    from pvscan.checks.layout import struct_layout

    laid: dict[str, set[str]] = {}
    for tag in sorted(areas.handed):
        members = sorted({m for uses in areas.uses.values() for t, m in uses if t == tag})
        if not members:
            continue
        header = areas.headers[tag]
        layout, _ = struct_layout(tree, [header], tag, target, {})
        rows = []
        found = [f for f in (layout.field(m) for m in members) if f is not None] if layout is not None else []
        for f in sorted(found, key=lambda f: (f.offset is None, f.offset or 0, f.name)):
            if f.offset is not None:
                rows.append(f"    {{ name = {_q(f.name)}, offset = {f.offset}, size = {f.size} }},")
                laid.setdefault(tag, set()).add(f.name)
        if not rows:
            continue
        handed = "; ".join(f"{h.hypercall} in {h.function} ({h.file}:{h.line}, handing over {h.variable})"
                           for h in areas.handed[tag])
        out += ["[[area]]", f'name = "{tag}"', f'struct = "{tag}"', f"headers = [{_q(header)}]",
                f"registered_by = {_q(handed)}",
                "# FILL IN: offsets and sizes are the tree's header laid out for " + target
                + "; check them against the hypervisor's definition", "fields = [", *rows, "]",
                f"source = {_q('FILL IN: where the hypervisor defines struct ' + tag)}", ""]
    return laid
