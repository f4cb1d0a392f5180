"""Which backend a file belongs to: a documented, overridable path mapping.

The first pattern that matches a file's path (relative to the tree) names
its backend. User patterns (--backend-map FILE, --backend PATTERN=NAME) are
tried before the defaults below. The initializer in a table's own
definition is always the 'native' backend, wherever it sits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from pvscan.abi.tomlfile import load_toml
from pvscan.errors import PvscanError
from pvscan.run import Run

if TYPE_CHECKING:
    from re import Pattern

NATIVE = "native"
UNATTRIBUTED = "unattributed"

DEFAULT_MAP: tuple[tuple[str, str], ...] = (
    ("arch/*/xen/**", "xen"),
    ("drivers/xen/**", "xen"),
    ("include/xen/**", "xen"),
    ("arch/*/include/asm/xen/**", "xen"),
    ("arch/*/kernel/kvm*.c", "kvm"),
    ("arch/*/include/asm/kvm_para.h", "kvm"),
    ("arch/x86/hyperv/**", "hyperv"),
    ("arch/x86/kernel/cpu/mshyperv.c", "hyperv"),
    ("drivers/hv/**", "hyperv"),
    ("drivers/clocksource/hyperv_timer.c", "hyperv"),
    ("arch/x86/kernel/cpu/vmware.c", "vmware"),
    ("arch/x86/coco/tdx/**", "tdx"),
    ("arch/x86/kernel/tdx.c", "tdx"),
    ("arch/*/kernel/vmi*.c", "vmi"),
    ("arch/*/include/asm/vmi*.h", "vmi"),
    ("include/asm-*/vmi*.h", "vmi"),
    ("arch/*/lguest/**", "lguest"),
    ("drivers/lguest/**", "lguest"),
    ("arch/x86/kernel/cpu/acrn.c", "acrn"),
    ("arch/x86/kernel/jailhouse.c", "jailhouse"),
    # ScaleMP's vSMP Foundation: callee-save irq ops that keep EFLAGS.AC a shadow of IF
    # (2.6.32 and 4.14 vsmp_64.c, set_vsmp_pv_ops()).
    ("arch/x86/kernel/vsmp_64.c", "vsmp"),
    # arm64's paravirt.c (4.20-5.12) defines pv_ops without an initializer and fills
    # time.steal_clock at run time with the stolen time the hypervisor reports through SMCCC
    # (ARM DEN0057A), the interface KVM implements: nothing in it is a native default.
    ("arch/arm64/kernel/paravirt*.c", "kvm"),
    # riscv's paravirt.c (6.8 on) installs pv_steal_clock from the shared record the SBI
    # steal-time accounting extension (STA) registers, which KVM RISC-V provides; loongarch's
    # (6.10 on) from the kvm_steal_time area registered with KVM_HCALL_FUNC_NOTIFY. Their
    # DEFINE_STATIC_CALL default is native all the same, as a table's own initializer is.
    ("arch/riscv/kernel/paravirt*.c", "kvm"),
    ("arch/loongarch/kernel/paravirt*.c", "kvm"),
    ("arch/*/kernel/paravirt*.c", NATIVE),
    ("arch/*/include/asm/**", NATIVE),
    ("include/asm-*/**", NATIVE),
)


@dataclass(frozen=True)
class BackendMap:
    """Which backend each file belongs to: (pattern, name) rules, first match wins."""

    rules: tuple[tuple[str, str], ...]

    def backend_of(self, path: str) -> str:
        return _lookup(self.rules, path)


@lru_cache(maxsize=4096)
def _lookup(rules, path: str) -> str:
    for pattern, name in rules:
        if _glob_regex(pattern).fullmatch(path):
            return name
    return UNATTRIBUTED


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> Pattern:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)   # a file name may hold a newline


@dataclass(frozen=True)
class BackendHomes:
    """The architectures each backend is built for, where the tree says so by a directory of
    its own under arch/ that the map names ('arch/*/xen/**': x86, arm and arm64 have
    arch/*/xen, riscv and loongarch none). A file outside arch/ is built for every
    architecture its backend is: drivers/xen/time.c installs pv_steal_clock for Xen's three,
    never for riscv's. A backend with no such directory pattern, or no such directory in the
    tree at all (a tree cut down to some files), is taken as built for all."""

    homes: tuple[tuple[str, frozenset], ...] = ()     # (backend, architectures)

    def builds(self, backend: str, arch: str) -> bool:
        found = dict(self.homes)
        return backend not in found or arch in found[backend]


def backend_homes(backend_map: BackendMap, arch_subdirs: dict) -> BackendHomes:
    """BackendHomes from the map's 'arch/*/NAME/**' rules and {arch: directories under arch/<arch>/}."""
    homes: dict = {}
    for pattern, name in backend_map.rules:
        m = re.fullmatch(r"arch/\*/([A-Za-z0-9_.-]+)/\*\*", pattern)
        if m:
            homes.setdefault(name, set()).update(a for a, subs in arch_subdirs.items() if m.group(1) in subs)
    return BackendHomes(tuple(sorted((name, frozenset(arches)) for name, arches in homes.items() if arches)))


def build_backend_map(map_file: str | None = None, extra: list[str] | None = None,
                      run: Run | None = None) -> BackendMap:
    rules: list[tuple[str, str]] = []
    for item in extra or []:
        pattern, sep, name = item.partition("=")
        if not sep or not pattern or not name:
            raise PvscanError(f"--backend wants PATTERN=NAME, got {item!r}")
        rules.append((pattern, name))
    if map_file:
        rules.extend(_read_map_file(map_file, run))
    return BackendMap(tuple(rules) + DEFAULT_MAP)


def _read_map_file(path: str, run: Run | None):
    data = load_toml(path, "the backend map", run)
    unknown = set(data) - {"backend"}
    if unknown:
        raise PvscanError(f"unknown key {sorted(unknown)[0]!r} (expected [[backend]] tables)", path)
    entries = data.get("backend", [])
    if not isinstance(entries, list):
        raise PvscanError("'backend' must be an array of tables ([[backend]])", path)
    rules = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) != {"pattern", "name"} \
                or not all(isinstance(v, str) and v for v in entry.values()):
            raise PvscanError(f"[[backend]] number {i} needs exactly: pattern = \"...\", name = \"...\"", path)
        rules.append((entry["pattern"], entry["name"]))
    return rules
