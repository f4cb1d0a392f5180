"""A directory that is a git checkout: its search redone only for the files that changed.

A scan of a checkout remembers, in the cache, what its search found: the
candidate files, the lines calling the wrappers it looked for, the files
it skipped, and which commit tree and which work-tree changes it saw.
The next scan asks git what differs since (`git diff-tree` between the
two commit trees, `git status` for the work tree now and then, ignored
and untracked files included) and searches only those files, the rest
coming from the remembered result. What it gives is what a whole-tree
search gives (tested after edits, additions, deletions and renames).

Only git runs (rev-parse, status, diff-tree), with the work tree's file
system monitor turned off, so nothing configured in the tree is run. The
command line begins 'git status' as soon as it knows the tree
(start_status), so that it runs while Python imports the rest. When
anything is unusual (no commit, a remembered result for other wrapper
names, too many changed files), the whole tree is searched instead.
"""

from __future__ import annotations

import os
import re
import subprocess

from pvscan.errors import Warning_
from pvscan.naming import CANDIDATE_RE, LOOSE_PATTERN
from pvscan.source.files import EXCLUDED_DIRS, SOURCE_SUFFIXES, SkippedFile

# Past this many changed files, ripgrep over the whole tree is quicker than reading them one by one.
MAX_CHANGED = 3000
_LOOSE_RE = re.compile(LOOSE_PATTERN.encode())
# --no-optional-locks: git status would otherwise refresh and write the index, inside the tree.
_GIT = ["git", "--no-optional-locks", "-c", "core.fsmonitor=false", "-c", "core.quotePath=false"]


def search_checkout(tree, wrappers: frozenset, warnings: list):
    """(candidates, calls_found) as source.search.tree_search gives them, reusing the last scan of
    this checkout for the files git says did not change; None when the tree is no checkout."""
    from pvscan.cache import Cache
    from pvscan.source.search import calls_pattern, tree_search

    root = str(tree.root)
    tree_id, status = _head_and_status(root)
    if tree_id is None:
        return None
    dirty = {p for p in _listed(status) if _searched(p)}
    cache = Cache.for_source(tree)
    seen = cache.get_checkout(root)
    changed = None
    # The remembered search serves any caller whose wrapper names it covers (a review asks for
    # none), and keeps covering its own: a review must not leave the next scan a record of
    # fewer names, which that scan could not use.
    remembered = frozenset(wrappers)
    if seen is not None and frozenset(seen["wrappers"]) >= wrappers:
        remembered = frozenset(seen["wrappers"])
        changed = _changed(root, seen["tree_id"], tree_id, dirty | set(seen["dirty"]))
    if changed is None or len(changed) > MAX_CHANGED:
        remembered = frozenset(wrappers)
        found_warnings: list = []
        candidates, calls = tree_search(tree, wrappers, found_warnings)
        skipped = {w.path: w.message for w in found_warnings if w.line == 0}
    else:
        exact = re.compile(calls_pattern(remembered).encode()) if remembered else None
        kept = set(seen["candidates"]) - changed
        calls = {p: tuple((row, text.encode("utf-8", "surrogateescape")) for row, text in lines)
                 for p, lines in seen["calls"].items() if p not in changed}
        skipped = {p: m for p, m in seen["skipped"].items() if p not in changed}
        for rel in sorted(changed):
            is_candidate, lines, problem = _search_file(tree, rel, exact)
            if is_candidate:
                kept.add(rel)
            if lines:
                calls[rel] = lines
            if problem:
                skipped[rel] = problem
        candidates = sorted(kept)
        found_warnings = [Warning_(p, 0, m) for p, m in sorted(skipped.items())]
    cache.put_checkout(root, {
        "tree_id": tree_id, "dirty": sorted(dirty), "wrappers": sorted(remembered), "candidates": candidates,
        "calls": {p: [[row, text.decode("utf-8", "surrogateescape")] for row, text in lines]
                  for p, lines in sorted(calls.items())},
        "skipped": dict(sorted(skipped.items()))})
    cache.tell()
    warnings.extend(found_warnings)
    if remembered != wrappers:
        asked = re.compile(calls_pattern(wrappers).encode()) if wrappers else None
        calls = {p: kept for p, lines in calls.items()
                 if asked and (kept := tuple((row, text) for row, text in lines if asked.search(text)))}
    return candidates, {p: tuple(lines) for p, lines in sorted(calls.items())}


def _search_file(tree, rel, exact):
    """(is a candidate, ((line, text) calling a wrapper), why it was skipped) for one file,
    judged as ripgrep and the candidate check judge it over the whole tree."""
    full = tree.root / rel
    if os.path.islink(full) or not os.path.isfile(full):
        return False, (), None          # gone, or not a file ripgrep would read
    try:
        data = tree.read(rel)
    except SkippedFile as e:
        from pvscan.source.search import peek

        return False, (), (f"skipped: {e}" if _LOOSE_RE.search(peek(tree, rel)) else None)
    lines = ()
    if exact is not None:
        lines = tuple((n, line) for n, line in enumerate(data.split(b"\n"), 1) if exact.search(line))
    return bool(_LOOSE_RE.search(data) and CANDIDATE_RE.search(data)), lines, None


# "traditional" with --untracked-files=all lists every file of an ignored directory; "matching" would
# list only the directory, and a change inside it would go unseen.
_STATUS = ("status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=traditional", "--no-renames")
_early: dict = {}      # root -> the 'git status' start_status began
_collected: dict = {}  # root -> (tree id, 'git status') run_state read, for this run's search


def start_status(path) -> None:
    """Begin the work tree's 'git status' now, when path is the top of a git checkout, so that
    it runs while Python imports what the scan needs (it takes 0.2 s on 6.12, as the imports
    do); _head_and_status() collects it. Nothing else is started, and nothing from the tree."""
    root = os.path.realpath(path)
    if root in _early or not os.path.exists(os.path.join(root, ".git")):
        return
    try:
        _early[root] = subprocess.Popen([*_GIT, "-C", root, *_STATUS], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    except OSError:
        pass


def run_state(tree, options: str) -> str | None:
    """A digest of what a scan of this checkout reads, with the command's options: the commit's
    tree id, the work tree's 'git status' (untracked and every ignored file included) and the
    bytes of each source file it lists and of the top Makefile. Equal digests, equal output.
    None when the tree is not the top of a git checkout with a commit, or git fails.

    'git status' is kept for this run's search (search_checkout), which then needs no second
    one; forget() drops it when the run ends without searching."""
    import hashlib

    root = str(tree.root)
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    tree_id, status = _head_and_status(root)
    if tree_id is None:
        return None
    _collected[root] = tree_id, status
    h = hashlib.sha256(b"pvscan-run-state/1\0" + options.encode("utf-8", "surrogateescape") + b"\0"
                       + os.fsencode(root) + b"\0" + tree_id.encode() + b"\0" + status)
    for rel in sorted({p for p in _listed(status) if _searched(p)} | {"Makefile"}):
        h.update(b"\0" + os.fsencode(rel) + b"\0" + file_digest(os.path.join(root, rel)))
    return h.hexdigest()


def forget(tree) -> None:
    """Drop the 'git status' run_state kept, if this run did not use it."""
    _collected.pop(str(tree.root), None)
    proc = _early.pop(str(tree.root), None)
    if proc is not None:
        proc.kill()
        proc.wait()


def file_digest(path: str) -> bytes:
    """What is at path, for a digest: a regular file's SHA-256, a symlink's target, or what it is
    instead. Never follows a symlink, never opens anything but a regular file (a FIFO would block)."""
    import hashlib

    try:
        if os.path.islink(path):
            return b"link:" + os.fsencode(os.readlink(path))
        if not os.path.isfile(path):
            return b"absent" if not os.path.lexists(path) else b"not a regular file"
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest().encode()
    except OSError as e:
        return f"unreadable: {e.errno}".encode()


def _head_and_status(root: str) -> tuple[str | None, bytes]:
    """(the commit's tree id, the work tree's 'git status'), or (None, b"") when git cannot say:
    what run_state kept for this run, else asked now (collecting start_status's 'git status')."""
    if root in _collected:
        return _collected.pop(root)
    proc = _early.pop(root, None)
    tree_id = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{tree}")
    if proc is None:
        status = _git(root, *_STATUS)
    else:
        status, _ = proc.communicate()
        status = status if proc.returncode == 0 else None
    if not tree_id or status is None:
        return None, b""
    return tree_id.strip().decode(), status


def _listed(status: bytes) -> set[str]:
    """The paths of 'git status --porcelain=v1 -z --no-renames' records ('XY path')."""
    return {os.fsdecode(record[3:]) for record in status.split(b"\0") if len(record) > 3}


def _changed(root: str, old_tree: str, new_tree: str, dirty: set) -> set[str] | None:
    changed = set(dirty)
    if old_tree != new_tree:
        out = _git(root, "diff-tree", "-r", "-z", "--no-renames", "--name-only", old_tree, new_tree)
        if out is None:
            return None
        changed |= {p for p in (os.fsdecode(r) for r in out.split(b"\0") if r) if _searched(p)}
    return changed


def _searched(rel: str) -> bool:
    """A path the whole-tree search reads: a .c/.h file, in no excluded or hidden directory."""
    parts = rel.split("/")
    return (rel.endswith(SOURCE_SUFFIXES) and parts[0] not in EXCLUDED_DIRS
            and not any(p.startswith(".") for p in parts))


def _git(root: str, *args) -> bytes | None:
    proc = subprocess.run([*_GIT, "-C", root, *args], capture_output=True)
    return proc.stdout if proc.returncode == 0 else None
