"""A scan's whole output, kept for a git checkout in a state a scan has seen before.

The key is source.checkout.run_state: the commit's tree, the work tree's status, the bytes of
every source file git lists as changed, the command's options. Equal keys, equal output: a
rescan of an unchanged checkout prints what the last one printed, before anything heavy is
imported. Entries are stamped with the whole package (cache.package_stamp): any change to
pvscan is a miss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re

from pvscan.cache import Cache, Store, json_store, package_stamp
from pvscan.source import checkout

if TYPE_CHECKING:
    from pvscan.source.directory import KernelTree


# What a kept output may not hold, as it goes to a terminal unread: control characters but
# newline and tab, and escape sequences but colours (SGR), which pvscan's colour writes.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]|\x1b(?!\[[0-9;]*m)")

# (stdout, stderr) of the run whose inputs the key names.
OUTPUTS: Store[str, tuple[str, str]] = json_store(
    "outputs", package_stamp, lambda key: key,
    lambda key, output: {"key": key, "stdout": output[0], "stderr": output[1]},
    lambda key, doc: (isinstance(doc, dict) and doc.get("key") == key and isinstance(doc.get("stdout"), str)
                      and isinstance(doc.get("stderr"), str)
                      and not _UNPRINTABLE.search(doc["stdout"]) and not _UNPRINTABLE.search(doc["stderr"])),
    lambda doc: (doc["stdout"], doc["stderr"]), "not the output of that run")


class KeptOutput:
    """The output a scan of this checkout, with these options, gave before (seen), and this
    scan's, kept (keep). options: the command's options that shape what it prints."""

    def __init__(self, tree: KernelTree, options: str) -> None:
        self.tree = tree
        self.cache = Cache.for_source(tree)
        self.key = checkout.run_state(tree, options) if self.cache.root is not None else None

    def seen(self) -> tuple[str, str] | None:
        """(stdout, stderr) of the scan that saw this state, or None."""
        return self.cache.get(OUTPUTS, self.key) if self.key else None

    def forget_status(self) -> None:
        """Let the 'git status' run_state kept go, if the scan did not use it."""
        checkout.forget(self.tree)

    def keep(self, stdout: str, stderr: str, wanted_wrappers: bool, blind: bool) -> None:
        """Keep this scan's output, once the checkout's remembered search covers the wrapper names
        the next scan will look for (wanted_wrappers: the scan looked for callers): else a later
        change would find it unusable and search the whole tree again. A scan that could not
        place what it saw (blind) is not kept: its exit status is part of its answer."""
        from pvscan.pipeline import WRAPPERS

        self.cache.tell()
        if self.key and not blind and (not wanted_wrappers
                         or self.cache.get(WRAPPERS, str(self.tree.root)) == self.tree.searched_wrappers):
            self.cache.put(OUTPUTS, self.key, (stdout, stderr))
