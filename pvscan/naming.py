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
# ... and pv_info (2.6.23-4.19), pv_ops and paravirt_patch_template (4.20 on),
# and pv_ops_lock beside pv_ops (7.x): a 'pv_' name with an 'ops' word in it.
# Only a global whose struct type holds ops becomes a table (inventory.tables).
TABLE_NAME = r"paravirt_ops|paravirt_patch_template|pv_[a-z0-9_]*ops(?:_[a-z0-9_]+)?|pv_info"
TABLE_NAME_RE = re.compile(rf"^(?:{TABLE_NAME})$")

# A paravirt static call (5.12 on): 'DEFINE_STATIC_CALL(pv_steal_clock, native_steal_clock)'.
# Its name is a 'pv_' name; the static_call API names it as its first argument.
STATIC_CALL_NAME_RE = re.compile(r"^pv_[a-z0-9_]+$")
STATIC_CALL_DEFINERS = {"DEFINE_STATIC_CALL": True, "DEFINE_STATIC_CALL_NULL": True,
                        "DEFINE_STATIC_CALL_RET0": True, "DECLARE_STATIC_CALL": False}
# static_call(pv_x)(args) calls it, static_call_query reads it, static_call_update installs a function.
STATIC_CALL_USES = {"static_call": "call", "static_call_cond": "call", "static_call_mod": "call",
                    "static_call_query": "read", "static_call_update": "update"}
# A function that installs its argument into a static call ('paravirt_set_sched_clock(func)'
# calls static_call_update(pv_sched_clock, func)) is found by its body; its calls elsewhere
# are found by this convention, the kernel's for paravirt hooks: a paravirt_* function called
# with one function name. An installer named otherwise is said on stderr (inventory.statics).
INSTALLER_CALL_RE = re.compile(r"^paravirt_[a-z0-9_]+$")

# The struct a callee-save op is declared with (PV_CALLEE_SAVE_REGS_THUNK).
CALLEE_SAVE_STRUCT = "paravirt_callee_save"

# The call-site macros of every generation: PVOP_CALL0 ... PVOP_VCALLEE4 and
# their ALT_ forms (5.13 on). Groups: ALT_, V (void), EE (callee-save), arity.
PVOP_MACRO_RE = re.compile(r"^PVOP_(ALT_)?(V?)CALL(EE)?([0-9])$")
PVOP_USE_RE = re.compile(rb"\b(PVOP_[A-Z0-9_]+)\s*\(")
# A text that names a table or a PVOP_* macro: such a #define body may hold a wrapper.
MENTIONS_TABLE_RE = re.compile(rf"\b(?:{TABLE_NAME}|PVOP_[A-Z0-9_]+)\b")

# The static-call forms a candidate holds: a pv_ static call defined, declared or used, or an
# installer-like call 'paravirt_set_sched_clock(xen_sched_clock)'.
_STATIC_CALL_PATTERN = (r"(?:DEFINE_|DECLARE_)?STATIC_CALL[A-Z0-9_]*\s*\(\s*pv_|static_call[a-z_]*\s*\(\s*pv_"
                        r"|paravirt_[a-z0-9_]+\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)")
# What makes a file a candidate: a table name, a PVOP_* macro, the callee-save type, or a static call.
CANDIDATE_PATTERN = (rf"\b(?:{TABLE_NAME}|PVOP_[A-Z0-9_]+|{CALLEE_SAVE_STRUCT})\b"
                     rf"|\b(?:{_STATIC_CALL_PATTERN})")
CANDIDATE_RE = re.compile(CANDIDATE_PATTERN.encode())
# The same without word boundaries, which cost ripgrep seven times the time
# (Unicode \b): it finds a superset, which CANDIDATE_PATTERN then narrows.
LOOSE_PATTERN = rf"(?:{TABLE_NAME}|PVOP_|{CALLEE_SAVE_STRUCT}|{_STATIC_CALL_PATTERN})"
# Fixed strings that every name CANDIDATE_PATTERN matches contains: git grep -F with these
# reads a revision's blobs 3.5x faster than -E with the alternation (15 s -> 4.3 s on 6.12's
# objects), and CANDIDATE_RE narrows the superset it finds.
LOOSE_FIXED = ("paravirt_", "pv_", "PVOP_")


def is_table_name(name: str) -> bool:
    return TABLE_NAME_RE.match(name) is not None


def generation_aliases(name: str) -> list[str]:
    """The same op under the other generations' names.

    'pv_mmu_ops.set_pte' (2.6.23-4.19) <-> 'mmu.set_pte' (4.20-6.x); 'pv_lock_ops.kick' <->
    'lock.kick' <-> 'pv_ops_lock.kick' (7.x, a table of its own); and a member that became a
    static call of its name in 5.12: 'pv_time_ops.steal_clock' <-> 'time.steal_clock' <->
    'pv_steal_clock'. A static call's own name has no table to give back: identity.OpIndex
    finds its table-era op by the member."""
    head, _, rest = name.partition(".")
    if not rest:
        return []
    if head.startswith("pv_ops_") and len(head) > 7:
        group = head[7:]
    elif head.startswith("pv_") and head.endswith("_ops") and len(head) > 7:
        group = head[3:-4]
    else:
        group = head
    out = [f"{group}.{rest}", f"pv_{group}_ops.{rest}", f"pv_ops_{group}.{rest}"]
    if "." not in rest:
        out.append(f"pv_{rest}")
    return [n for n in dict.fromkeys(out) if n != name]


def static_call_member(name: str) -> str | None:
    """'pv_steal_clock' -> 'steal_clock': the table member a static call's name was, for a name
    without a table (None for a table op)."""
    return name[3:] if "." not in name and name.startswith("pv_") and len(name) > 3 else None


def in_arch(selected: str | None, arch: str) -> bool:
    """Whether something of arch belongs to the architecture selected (--arch; None: all): its
    own, and the generic ones its kernel is built with (7.x's pv_steal_clock)."""
    return selected is None or arch in (selected, "generic")


def arch_of(rel: str) -> str:
    """The architecture a file belongs to: arch/X/... or include/asm-X/... (2.6.2x)."""
    parts = rel.split("/")
    if len(parts) > 2 and parts[0] == "arch":
        return parts[1]
    if len(parts) > 2 and parts[0] == "include" and parts[1].startswith("asm-") and parts[1] != "asm-generic":
        return parts[1][4:]
    return "generic"
