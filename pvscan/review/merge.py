"""A three-way merge of one file, as 'git apply --3way' does when a hunk's context has moved on.

When a patch names the blob it was made against ('index <old>..<new>') and
the tree's repository has that blob, the patch is applied to it (where it
applies exactly) and the change is merged into the file as the tree has
it: base = the blob, ours = the tree's file, theirs = the blob patched.
Only `git merge-file` runs, on copies in a temporary folder; a merge with
conflicts is no merge.
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path


def three_way(ours: bytes, base: bytes, theirs: bytes) -> bytes | None:
    """ours with the change from base to theirs, or None when they conflict."""
    from pvscan.source.git import git_environment

    with tempfile.TemporaryDirectory(prefix="pvscan-merge-") as tmp:
        paths = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(data)
            paths.append(str(path))
        from pvscan.source.external import run_bounded

        try:
            proc = run_bounded(["git", "merge-file", "-p", "--quiet", *paths], "git merge-file", env=git_environment())
        except OSError:
            return None      # no git: no three-way merge, the hunk is judged as it applies
    return proc.stdout if proc.returncode == 0 else None


def line_changes(old: bytes, new: bytes):
    """(added new lines, removed old lines, the lines kept (KeptLines)), all 1-based."""
    from pvscan.review.apply import KeptLines

    a = old.decode("utf-8", "surrogateescape").split("\n")
    b = new.decode("utf-8", "surrogateescape").split("\n")
    added: set[int] = set()
    removed: set[int] = set()
    kept = KeptLines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            kept.add(i1 + 1, j1 + 1, i2 - i1)
        else:
            removed.update(range(i1 + 1, i2 + 1))
            added.update(range(j1 + 1, j2 + 1))
    return added, removed, kept
