"""Sizes in bits of the kernel types that pv ops pass, per target.

A documented table (docs/abi-format.md), used by the width check until
precise mode computes sizes with libclang. A type not in the table has no
size, and no width finding is made for it.
"""

from __future__ import annotations

import re

# Sizes that do not depend on the target.
_FIXED = {
    "char": 8, "signed char": 8, "unsigned char": 8, "u8": 8, "s8": 8, "__u8": 8, "bool": 8, "_Bool": 8,
    "short": 16, "unsigned short": 16, "u16": 16, "s16": 16, "__u16": 16,
    "int": 32, "signed int": 32, "unsigned": 32, "unsigned int": 32, "signed": 32, "u32": 32, "s32": 32,
    "__u32": 32, "__s32": 32,
    "long long": 64, "unsigned long long": 64, "u64": 64, "s64": 64, "__u64": 64, "__s64": 64,
    "void": 0,
}

# (i386, i386-pae, x86_64)
_BY_TARGET = {
    "long": (32, 32, 64), "unsigned long": (32, 32, 64), "signed long": (32, 32, 64),
    "size_t": (32, 32, 64), "ssize_t": (32, 32, 64), "uintptr_t": (32, 32, 64),
    "phys_addr_t": (32, 64, 64), "dma_addr_t": (32, 64, 64), "resource_size_t": (32, 64, 64),
    "pte_t": (32, 64, 64), "pteval_t": (32, 64, 64), "pmd_t": (32, 64, 64), "pmdval_t": (32, 64, 64),
    "pud_t": (32, 64, 64), "pudval_t": (32, 64, 64), "pgd_t": (32, 64, 64), "pgdval_t": (32, 64, 64),
    "p4d_t": (32, 64, 64), "p4dval_t": (32, 64, 64), "pgprot_t": (32, 64, 64), "pgprotval_t": (32, 64, 64),
    "gate_desc": (64, 64, 128),
}
_POINTER = {"i386": 32, "i386-pae": 32, "x86_64": 64, "arm64": 64, "riscv64": 64, "loongarch64": 64}
# The LP64 targets size the kernel's types as x86_64 does.
_TARGET_INDEX = {"i386": 0, "i386-pae": 1, "x86_64": 2, "arm64": 2, "riscv64": 2, "loongarch64": 2}
_QUALIFIERS = re.compile(r"\b(const|volatile|restrict|__restrict|register)\b")


def size_bits(ctype: str | None, target: str) -> int | None:
    """Bits the type takes on target, or None when the table does not know it."""
    if not ctype:
        return None
    t = " ".join(_QUALIFIERS.sub(" ", ctype).split())
    if t.endswith("*") or "(*" in t or t.endswith("]"):
        return _POINTER[target]
    t = t.replace("enum ", "enum_")
    if t.startswith("enum_"):
        return 32
    if t in _FIXED:
        return _FIXED[t]
    if t in _BY_TARGET:
        return _BY_TARGET[t][_TARGET_INDEX[target]]
    return None
