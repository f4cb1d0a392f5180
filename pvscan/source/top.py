"""Where a kernel tree starts: the directory a path given for a tree stands for.

Kept apart from source.directory so that the command line can ask before it imports the
rest of pvscan.
"""

from __future__ import annotations

import re
from pathlib import Path

_TOP_MAKEFILE = re.compile(rb"^VERSION\s*=.*^PATCHLEVEL\s*=", re.M | re.S)


def kernel_top(start: Path) -> Path | None:
    """The top of the kernel tree start is in, as git finds a repository's: start itself or the
    nearest directory above it with arch/ and a Makefile that sets VERSION and PATCHLEVEL
    (tools/ has a Makefile and an arch/ of its own, and no VERSION)."""
    for d in (start, *start.parents):
        makefile = d / "Makefile"
        if not (d / "arch").is_dir() or not makefile.is_file() or makefile.is_symlink():
            continue
        try:
            with open(makefile, "rb") as f:
                head = f.read(4096)
        except OSError:
            continue
        if _TOP_MAKEFILE.search(head):
            return d
    return None


def tree_argument(path: str) -> str:
    """The path a tree argument stands for: the top of the tree it is inside, or itself."""
    try:
        top = kernel_top(Path(path).resolve())
    except OSError:
        return path
    return str(top) if top is not None and top != Path(path).resolve() else path
