"""The inventory's sums, computed once here so that reporters only format them.

Per group: ops, call sites, wrappers and callers; per backend: the ops it
implements and clears, and its files; per op and backend: what the backend
does with the op (the cell of the backends x ops matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.naming import in_arch

if TYPE_CHECKING:
    from pvscan.inventory.model import Inventory, Op


@dataclass(frozen=True)
class GroupSummary:
    """The counts of one group of a table."""

    arch: str
    table: str
    group: str
    ops: int
    call_sites: int
    wrappers: int
    callers: int | None          # None when a wrapper's callers were not counted (--no-callers)


@dataclass(frozen=True)
class BackendSummary:
    """The counts of one backend of an architecture."""

    arch: str
    backend: str
    implements: int              # ops it installs a function in
    clears: int                  # ops a group copy of its leaves NULL
    files: tuple[str, ...]


@dataclass(frozen=True)
class BackendCell:
    """What a backend does with one op: 'impl' (with its functions), 'null', 'default' or ''."""

    kind: str
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class InventorySummary:
    """The counts the reports print above the ops."""

    ops: int                     # table ops and static calls alike
    tables: int                  # tables that hold ops
    groups: tuple[GroupSummary, ...]      # sorted by arch, table, group
    backends: tuple[BackendSummary, ...]  # sorted by arch, backend
    backend_names: tuple[str, ...] = ()   # every backend of every architecture, sorted
    cells: dict[tuple[str, str, str], BackendCell] = field(default_factory=dict)   # (arch, op, backend) -> its cell
    static_calls: int = 0                 # of the ops, the paravirt static calls

    def by_group(self) -> dict:
        """{(arch, group): GroupSummary} across tables, as the text report lists them."""
        return {(g.arch, g.group): g for g in self.groups}


def summarize(inventory: Inventory, arch: str | None = None) -> InventorySummary:
    """Sums over the ops of one architecture, or of all when arch is None."""
    ops = [o for o in inventory.ops if in_arch(arch, o.arch)]
    by_group: dict = {}
    for o in ops:
        by_group.setdefault((o.arch, o.table, o.group), []).append(o)
    groups = tuple(GroupSummary(a, t, g, len(gops), sum(len(o.call_sites) for o in gops),
                                sum(len(o.wrappers) for o in gops), _callers(gops))
                   for (a, t, g), gops in sorted(by_group.items()))
    backends = tuple(
        BackendSummary(a, backend,
                       sum(1 for o in ops if o.arch == a and backend in o.backends),
                       sum(1 for o in ops if o.arch == a and any(c.backend == backend for c in o.cleared_by)),
                       files)
        for (a, backend), files in sorted(inventory.backends.items()) if in_arch(arch, a))
    tables = sum(1 for t in inventory.tables if t.ops and in_arch(arch, t.arch))
    names = tuple(sorted({b for (_, b) in inventory.backends}))
    cells = {(o.arch, o.name, b): backend_cell(o, b) for o in ops for b in names}
    statics = sum(1 for o in ops if o.convention == "static_call")
    return InventorySummary(len(ops), tables, groups, backends, names, cells, statics)


def backend_cell(op: Op, backend: str) -> BackendCell:
    functions = tuple(sorted({i.function for i in op.implementations if i.backend == backend}))
    if functions:
        return BackendCell("impl", functions)
    if any(c.backend == backend for c in op.cleared_by):
        return BackendCell("null")
    if backend in op.leaves_native:
        return BackendCell("default")
    return BackendCell("")


def _callers(ops: list[Op]) -> int | None:
    if any(o.callers is None for o in ops):
        return None
    return sum(o.callers or 0 for o in ops)
