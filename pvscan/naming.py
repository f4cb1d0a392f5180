"""The kernel's naming conventions for pv_ops, in one place.

Tables are found by these names, never by a list of ops: the ops are
whatever members the code declares in them. Every stage that recognises a
table, a PVOP_* call-site macro, a callee-save op, or the same op under
another generation's name asks here.
"""

from __future__ import annotations

import re

# The ops tables in every generation, for their struct types and their
# global instances alike: paravirt_ops (2.6.20-22), pv_cpu_ops, pv_mmu_ops
# ... and pv_info (2.6.23-4.19), pv_ops and paravirt_patch_template (4.20 on).
TABLE_NAME = r"paravirt_ops|paravirt_patch_template|pv_[a-z0-9_]*ops|pv_info"
TABLE_NAME_RE = re.compile(rf"^(?:{TABLE_NAME})$")

# The struct a callee-save op is declared with (PV_CALLEE_SAVE_REGS_THUNK).
CALLEE_SAVE_STRUCT = "paravirt_callee_save"

# The call-site macros of every generation: PVOP_CALL0 ... PVOP_VCALLEE4 and
# their ALT_ forms (5.13 on). Groups: ALT_, V (void), EE (callee-save), arity.
PVOP_MACRO_RE = re.compile(r"^PVOP_(ALT_)?(V?)CALL(EE)?([0-9])$")
PVOP_USE_RE = re.compile(rb"\b(PVOP_[A-Z0-9_]+)\s*\(")
# A text that names a table or a PVOP_* macro: such a #define body may hold a wrapper.
MENTIONS_TABLE_RE = re.compile(rf"\b(?:{TABLE_NAME}|PVOP_[A-Z0-9_]+)\b")

# What makes a file a candidate: a table name, a PVOP_* macro or the callee-save type.
CANDIDATE_PATTERN = rf"\b(?:{TABLE_NAME}|PVOP_[A-Z0-9_]+|{CALLEE_SAVE_STRUCT})\b"
CANDIDATE_RE = re.compile(CANDIDATE_PATTERN.encode())
# The same without word boundaries, which cost ripgrep seven times the time
# (Unicode \b): it finds a superset, which CANDIDATE_PATTERN then narrows.
LOOSE_PATTERN = rf"(?:{TABLE_NAME}|PVOP_|{CALLEE_SAVE_STRUCT})"
# Fixed strings that every name CANDIDATE_PATTERN matches contains: git grep -F with these
# reads a revision's blobs 3.5x faster than -E with the alternation (15 s -> 4.3 s on 6.12's
# objects), and CANDIDATE_RE narrows the superset it finds.
LOOSE_FIXED = ("paravirt_", "pv_", "PVOP_")


def is_table_name(name: str) -> bool:
    return TABLE_NAME_RE.match(name) is not None


def generation_aliases(name: str) -> list[str]:
    """The same op in the other generation's naming: 'pv_mmu_ops.set_pte' <-> 'mmu.set_pte'."""
    head, _, rest = name.partition(".")
    if not rest:
        return []
    if head.startswith("pv_") and head.endswith("_ops") and len(head) > 7:
        return [f"{head[3:-4]}.{rest}"]
    return [f"pv_{head}_ops.{rest}"]


def arch_of(rel: str) -> str:
    """The architecture a file belongs to: arch/X/... or include/asm-X/... (2.6.2x)."""
    parts = rel.split("/")
    if len(parts) > 2 and parts[0] == "arch":
        return parts[1]
    if len(parts) > 2 and parts[0] == "include" and parts[1].startswith("asm-") and parts[1] != "asm-generic":
        return parts[1][4:]
    return "generic"
