"""Writing results: whole or not at all, and never into the kernel tree."""

from __future__ import annotations

import os
import sys
import tempfile

from pvscan.errors import PvscanError


def refuse_writes_into(trees, *paths) -> None:
    """Before any work: no output path may lie inside a tree pvscan reads."""
    for path in paths:
        if not path or path == "-":
            continue
        directory = os.path.dirname(os.path.abspath(path)) or "."
        if any(tree.contains(directory) for tree in trees):
            raise PvscanError("refusing to write into the kernel tree", path)


def write_output(text: str, path: str | None) -> None:
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pvscan-", dir=directory)
    except OSError as e:
        raise PvscanError(f"cannot write: {e.strerror}", path) from None
    try:
        # mkstemp makes the file 0600; an output file gets the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PvscanError(f"cannot write: {e.strerror}", path) from None
