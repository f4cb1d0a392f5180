"""One op across the generations of the interface, for every stage that meets an op by name.

An ABI file, a patch or an older revision names an op as its own era did:
'pv_cpu_ops.cpuid' (2.6.23-4.19), 'cpu.cpuid' (4.20 on), 'paravirt_ops.cpuid'
(2.6.20-22). In a tree, that name means, in order:

1. the op of that very name;
2. the op of another generation's spelling ('pv_mmu_ops.set_pte' <-> 'mmu.set_pte';
   'lock.kick' <-> 'pv_ops_lock.kick'; 'time.steal_clock' <-> the static call 'pv_steal_clock');
3. when the tree has no table of that name in either spelling (another
   generation's layout), the one op whose member path below its table is
   the same ('cpuid' in paravirt_ops and in pv_cpu_ops; 'lazy_mode.enter',
   which two split tables have, never matches this way);
4. the same through RENAMES, the renames no rule above can see.

Anything else is no op of this tree: nothing is guessed. Architectures follow
ARCH_IDENTITY: i386 and x86_64 became x86 in 2.6.24.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.naming import generation_aliases, static_call_member

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from pvscan.inventory.model import Op
    from pvscan.review.review import _Named


# Renames no rule above can see, each a fact of kernel history (docs/history.md).
RENAMES = {
    "load_esp0": "load_sp0",            # 2.6.25, i386 and x86_64 unified
    "alloc_pt": "alloc_pte",            # 2.6.25
    "alloc_pd": "alloc_pmd",            # 2.6.25
    "release_pt": "release_pte",        # 2.6.25
    "release_pd": "release_pmd",        # 2.6.25
    "alloc_pd_clone": "alloc_pmd_clone",  # 2.6.25 (2.6.22 paravirt.h:178, 2.6.32 paravirt_types.h:260)
    "get_cpu_khz": "get_tsc_khz",       # 2.6.27 (2.6.26 and 2.6.27 paravirt.h, struct pv_time_ops)
    "flush_tlb_single": "flush_tlb_one_user",  # 4.16
}
ARCH_IDENTITY = {"i386": "x86", "x86_64": "x86"}


def arch_identity(arch: str) -> str:
    return ARCH_IDENTITY.get(arch, arch)


def same_arch(a: str, b: str) -> bool:
    return arch_identity(a) == arch_identity(b)


def on_arch(path: str, arch: str) -> bool:
    """Whether a file is arch's: under its arch/ directory (arch/i386 is x86's), or generic."""
    parts = path.split("/")
    return parts[0] != "arch" or len(parts) < 2 or same_arch(parts[1], arch)


def member(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def tail(name: str) -> str:
    """The member path below the table: 'pv_cpu_ops.lazy_mode.enter' -> 'lazy_mode.enter'."""
    return name.split(".", 1)[1] if "." in name else name


def renamed(name: str) -> list[str]:
    """name with its last member renamed either way through RENAMES: alloc_pt <-> alloc_pte."""
    head, _, last = name.rpartition(".")
    others = [new for old, new in RENAMES.items() if old == last] + [old for old, new in RENAMES.items() if new == last]
    return [f"{head}.{o}" if head else o for o in others]


class OpIndex:
    """The ops of one architecture family, to find by any era's name."""

    def __init__(self, ops: Iterable[Any]) -> None:
        """ops: the inventory's, or anything with a name to match them by (review's changed ops)."""
        self.by_name: dict[str, Op] = {}
        for o in ops:
            self.by_name.setdefault(o.name, o)
        self.by_tail: dict[str, list[Op]] = {}
        self.by_member: dict[str, list[Op]] = {}
        self.tables: set[str] = set()
        for o in self.by_name.values():
            self.by_tail.setdefault(tail(o.name), []).append(o)
            self.by_member.setdefault(member(o.name), []).append(o)
            self.tables.add(o.name.split(".", 1)[0])

    def _has_table_of(self, name: str) -> bool:
        return any(n.split(".", 1)[0] in self.tables for n in [name, *generation_aliases(name)])

    def find(self, name: str) -> tuple[None, None] | tuple[Op, str] | tuple[_Named, str]:
        """(op, how) with how one of 'name', 'generation', 'member', 'renamed'; (None, None) if none."""
        for candidate, how in [(name, "name")] + [(a, "generation") for a in generation_aliases(name)]:
            if candidate in self.by_name:
                return self.by_name[candidate], how
        was = static_call_member(name)
        if was is not None:
            # A static call in a tree from before 5.12: the one table op of that member.
            same = [o for o in self.by_member.get(was, []) if "." in o.name]
            if len(same) == 1:
                return same[0], "generation"
        # Another layout's table: the member path alone says which op, if only one has it.
        other_layout = not self._has_table_of(name)
        same = self.by_tail.get(tail(name), []) if other_layout else []
        if len(same) == 1:
            return same[0], "member"
        for other in renamed(name):
            for candidate in [other, *generation_aliases(other)]:
                if candidate in self.by_name:
                    return self.by_name[candidate], "renamed"
            same = self.by_tail.get(tail(other), []) if other_layout else []
            if len(same) == 1:
                return same[0], "renamed"
        return None, None


def ops_for_arch(ops, arch: str, homes=()) -> list:
    """The ops of arch's family, those of arch itself first (so its names win), then the generic
    ones (7.x's pv_steal_clock, defined in kernel/sched/cputime.c) as arch sees them."""
    family = [o for o in ops if same_arch(o.arch, arch)]
    own = {o.name for o in family}
    generic = [for_arch(o, arch, homes) for o in ops if o.arch == "generic" and o.name not in own]
    return [o for o in family if o.arch == arch] + [o for o in family if o.arch != arch] + generic


def for_arch(op: Op, arch: str, homes: tuple[tuple[str, frozenset[str]], ...] = ()) -> Op:
    """A generic op as one architecture's kernel has it: the implementations of that
    architecture's files and of generic ones (drivers/xen/time.c) whose backend that
    architecture builds (homes: Inventory.homes), not of another's."""
    import dataclasses

    from pvscan.naming import arch_of

    built = dict(homes)

    def here(i) -> bool:
        where = arch_of(i.file)
        if where == "generic":
            return i.backend not in built or any(same_arch(a, arch) for a in built[i.backend])
        return same_arch(where, arch)
    impls = tuple(i for i in op.implementations if here(i))
    backends = {i.backend for i in impls}
    return dataclasses.replace(op, implementations=impls,
                               leaves_native=tuple(b for b in op.leaves_native if b not in backends))
