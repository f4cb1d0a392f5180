"""The inventory's values: tables, ops, and what the tree says about each op.

All frozen, sorted by the builder, with paths relative to the tree; they
pickle to workers and compare across revisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pvscan.errors import Warning_
from pvscan.facts.model import Param


@dataclass(frozen=True)
class CallSite:
    """A place that calls or reads an op through its table."""

    file: str
    line: int
    kind: str                   # PVOP_* macro name, "call", "asm" or "read"
    arity: int | None
    return_type: str | None
    alt_replacement: str | None
    alt_condition: str | None
    function: str | None        # the enclosing function or macro: the wrapper
    function_kind: str          # "function" | "macro" | "file"
    guard: str | None
    # The condition with the tree's object-like macros expanded: ALT_NOT_XEN and
    # ALT_NOT(X86_FEATURE_XENPV) are one condition where the tree defines the one as the other.
    alt_condition_means: str | None = None


@dataclass(frozen=True)
class Wrapper:
    """The function or macro that encloses an op's call site."""

    name: str
    kind: str                   # "function" | "macro"
    file: str
    line: int
    callers: int | None = None  # None until the callers pass ran


@dataclass(frozen=True)
class Implementation:
    """A function a backend puts into an op."""

    backend: str
    file: str
    line: int
    function: str
    via: str                    # "initializer" | "assignment" | "macro NAME"
    wrapped_by: tuple[str, ...]  # PV_CALLEE_SAVE, __PV_IS_CALLEE_SAVE, aliases ...
    guard: str | None


@dataclass(frozen=True)
class Clear:
    """A backend copies a whole group from an initializer that omits this op.

    'pv_ops.mmu = xen_mmu_ops.mmu;' installs the whole struct: an op that
    xen_mmu_ops does not name becomes NULL, not the native default.
    """

    backend: str
    file: str
    line: int
    source: str                 # the initializer copied: 'xen_mmu_ops.mmu'


@dataclass(frozen=True)
class Variant:
    """One branch's declaration of an op declared in both branches of an #if/#else."""

    guard: str | None
    return_type: str | None
    params: tuple[Param, ...] | None
    line: int


@dataclass(frozen=True)
class Op:
    """One operation of a table, with everything the tree says of it."""

    name: str
    arch: str
    table: str                  # the root instance: pv_ops, pv_mmu_ops, paravirt_ops
    group: str
    return_type: str | None
    params: tuple[Param, ...] | None
    convention: str             # "plain" | "callee_save"
    signature_source: str | None  # "declaration" | "call_site" | None
    guard: str | None
    file: str
    line: int
    comment: str | None
    call_sites: tuple[CallSite, ...] = ()
    wrappers: tuple[Wrapper, ...] = ()
    implementations: tuple[Implementation, ...] = ()
    cleared_by: tuple[Clear, ...] = ()
    leaves_native: tuple[str, ...] = ()
    # Declared in both branches of one conditional: the op exists in both, with the
    # signature of each (return_type and params above are the first branch's).
    variants: tuple[Variant, ...] = ()

    @property
    def callers(self) -> int | None:
        """Callers of all its wrappers; None when they were not counted (--no-callers)."""
        if any(w.callers is None for w in self.wrappers):
            return None
        return sum(w.callers or 0 for w in self.wrappers)

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(sorted({i.backend for i in self.implementations}))


@dataclass(frozen=True)
class Table:
    """A paravirt ops table: the root variable and its type."""

    name: str
    type: str
    arch: str
    generation: str             # "single" | "split" | "unified" | "named"
    file: str
    line: int
    guard: str | None
    groups: tuple[str, ...]
    ops: int
    definition: str | None = None   # the .c file that defines the root, when there is one


@dataclass(frozen=True)
class Generation:
    """How one architecture's tree lays out pv_ops, as its code shows it.

    single (2.6.20-22), split (2.6.23-4.19), unified (4.20-6.x) or named (7.x: pv_ops
    beside pv_ops_lock, and every PVOP_* call names its table)."""

    arch: str
    name: str
    tables: tuple[str, ...]          # the roots with ops
    call_forms: tuple[str, ...]      # how its PVOP_* uses name an op: 'PVOP_*(op)', 'PVOP_*(table, op)'
    static_calls: tuple[str, ...]    # its paravirt static calls (5.12 on)

    def describe(self) -> str:
        """'pv_ops, pv_ops_lock; PVOP_*(table, op); static calls pv_sched_clock, pv_steal_clock'."""
        parts = [", ".join(self.tables)] if self.tables else []
        parts += list(self.call_forms)
        if self.static_calls:
            parts.append(("static calls " if parts else "") + ", ".join(self.static_calls))
        return "; ".join(parts)


@dataclass(frozen=True)
class Inventory:
    """Every table and op of a tree."""

    tables: tuple[Table, ...]
    ops: tuple[Op, ...]
    backends: dict = field(default_factory=dict)   # (arch, backend) -> sorted files
    warnings: tuple[Warning_, ...] = ()
    generations: tuple[Generation, ...] = ()
    # What the scan saw and could not place (a PVOP_* use naming no op, an installer it cannot
    # follow): also among the warnings; a scan with any exits 1, never 0 blind.
    blind: tuple[Warning_, ...] = ()
    # (backend, architectures) each backend with a directory of its own under arch/ is built
    # for (inventory.backends.BackendHomes): a generic file's install reaches only those.
    homes: tuple = ()

    def op(self, name: str, arch: str | None = None):
        return [o for o in self.ops if o.name == name and (arch is None or o.arch == arch)]


def signature_of(op: Op) -> str | None:
    """An op's signature as types only, 'void (pte_t *, pte_t)'; None when unknown."""
    if op.params is None or op.return_type is None:
        return None
    params = ", ".join(p.type or "?" for p in op.params) or "void"
    return f"{op.return_type} ({params})"
