"""What a run tells the user on stderr besides its answer, at the level they asked for.

-q: errors and the verdict only; the notes and warnings of the run are not printed (the exit
status still carries them). Default: the notes and warnings. -v: also what the run read and
decided (the tree and its version, what the scan parsed and took from the cache, each ABI and
where it came from). A run holds one Talk, made from its arguments; nothing here is global.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Iterable, Sequence

    from pvscan.abi import Abi
    from pvscan.errors import Warning_
    from pvscan.pipeline import ScanResult


QUIET, NORMAL, VERBOSE = 0, 1, 2


@dataclass(frozen=True)
class Talk:
    level: int = NORMAL

    @classmethod
    def of(cls, args: Namespace) -> Talk:
        return cls(QUIET if getattr(args, "quiet", False) else VERBOSE if getattr(args, "verbose", False)
                   else NORMAL)

    @property
    def quiet(self) -> bool:
        return self.level == QUIET

    def note(self, text: str) -> None:
        """A line of the run's notes or warnings ('note: ...', 'ABI vmi: ...'), unless quiet."""
        if self.level >= NORMAL:
            print(f"pvscan: {text}", file=sys.stderr)

    def warnings(self, warnings: Iterable[Warning_]) -> None:
        """The run's warnings, each once and in order, unless quiet."""
        if self.level >= NORMAL:
            from pvscan.errors import print_warnings

            print_warnings(warnings, sys.stderr)

    def read(self, text: str) -> None:
        """What the run read or decided, with -v."""
        if self.level >= VERBOSE:
            print(f"pvscan: read: {text}", file=sys.stderr)

    def scanned(self, result: ScanResult) -> None:
        """With -v, what a scan read: the tree, its version, the files parsed and cached."""
        if self.level >= VERBOSE:
            inventory = result.inventory
            self.read(f"{result.tree}: Linux {result.version}; {result.files_parsed} file(s) parsed, "
                      f"{result.cache_hits} from the cache; {len(inventory.ops)} op(s) in "
                      f"{len(inventory.tables)} table(s), {len(inventory.backends)} backend(s)")

    def abis(self, abis: Sequence[Abi]) -> None:
        for abi in abis:
            where = "(bundled)" if abi.path.startswith("<bundled>/") else f"from {abi.path}"
            self.read(f"ABI {abi.name} {where}: {len(abi.hypercalls)} hypercall(s), "
                      f"{len(abi.mappings)} mapping(s), {len(abi.areas)} area(s), target {abi.target}")
