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
names, too many changed files, another repository inside the work tree),
the whole tree is searched instead.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from typing import TYPE_CHECKING, Any

from pvscan.cache import IDENT, Cache, Store, format_stamp, json_store, tree_path, tree_paths
from pvscan.errors import Warning_
from pvscan.naming import CANDIDATE_RE, LOOSE_PATTERN
from pvscan.source.files import SkippedFile, is_searched, is_searched_dir, searched_entry

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pvscan.run import Run
    from pvscan.source.directory import KernelTree


# Past this many changed files, ripgrep over the whole tree is quicker than reading them one by one.
MAX_CHANGED = 3000
_LOOSE_RE = re.compile(LOOSE_PATTERN.encode())


def _searched_state(root: str, doc: Any) -> bool:
    """A search record of the checkout at root, field by field."""
    def paths(x: object):
        return isinstance(x, list) and all(tree_path(p) for p in x)

    return (isinstance(doc, dict) and doc.get("tree") == root
            and isinstance(doc.get("tree_id"), str) and re.fullmatch(r"[0-9a-f]{40,64}", doc["tree_id"]) is not None
            and paths(doc.get("dirty")) and paths(doc.get("candidates"))
            and isinstance(doc.get("wrappers"), list) and all(isinstance(n, str) and IDENT.fullmatch(n)
                                                              for n in doc["wrappers"])
            and isinstance(doc.get("calls"), dict) and all(
                tree_path(p) and isinstance(lines, list) and all(
                    isinstance(x, list) and len(x) == 2 and isinstance(x[0], int) and not isinstance(x[0], bool)
                    and isinstance(x[1], str) for x in lines)
                for p, lines in doc["calls"].items())
            and isinstance(doc.get("skipped"), dict) and all(
                tree_path(p) and isinstance(m, str) for p, m in doc["skipped"].items()))


# The last search of a checkout: its tree id and changed files then, its candidates, the calls
# of the wrapper names it looked for, the files it skipped.
SEARCHED: Store[str, dict[str, Any]] = json_store(
    "wrappers", format_stamp, lambda root: f"checkout\0{root}", lambda root, state: {"tree": root, **state},
    _searched_state, lambda doc: doc, "not the search of that checkout")

# The untracked and ignored sources of a checkout, with the modification time of each of its
# directories when they were listed.
WORKTREE: Store[str, dict[str, Any]] = json_store(
    "wrappers", format_stamp, lambda root: f"worktree\0{root}", lambda root, listing: {"tree": root, **listing},
    lambda root, doc: (isinstance(doc, dict) and doc.get("tree") == root
                       and isinstance(doc.get("dirs"), dict) and "." in doc["dirs"] and tree_paths(doc["dirs"])
                       and all(type(t) is int for t in doc["dirs"].values())
                       and isinstance(doc.get("others"), list) and all(tree_path(p) for p in doc["others"])),
    lambda doc: doc, "not the listing of that checkout")
# --no-optional-locks: git status would otherwise refresh and write the index, inside the tree.
_GIT = ["git", "--no-optional-locks", "-c", "core.fsmonitor=false", "-c", "core.quotePath=false"]


def search_checkout(tree: KernelTree, wrappers: frozenset, warnings: list):
    """(candidates, calls_found) as source.search.tree_search gives them, reusing the last scan of
    this checkout for the files git says did not change; None when the tree is no checkout."""
    from pvscan.source.search import calls_pattern, tree_search

    root = str(tree.root)
    tree_id, status = _head_and_status(tree.run, root)
    if tree_id is None:
        return None
    dirty = {p for p in _listed(status) if is_searched(p)}
    cache = Cache.for_source(tree)
    read_ahead = tree.run.search_read_ahead
    seen = read_ahead.pop(root) if root in read_ahead else cache.get(SEARCHED, root)
    changed = None
    # The remembered search serves any caller whose wrapper names it covers (a review asks for
    # none), and keeps covering its own: a review must not leave the next scan a record of
    # fewer names, which that scan could not use.
    remembered = frozenset(wrappers)
    if seen is not None and frozenset(seen["wrappers"]) >= wrappers:
        remembered = frozenset(seen["wrappers"])
        changed = _changed(root, seen["tree_id"], tree_id, dirty | set(seen["dirty"]))
    # calls, as the cache keeps them: {path: [[line, text], ...]}, the text a str of the bytes
    # (surrogateescape); turned into bytes only for a caller that asks for wrappers.
    if changed is None or len(changed) > MAX_CHANGED:
        remembered = frozenset(wrappers)
        found_warnings: list = []
        candidates, found = tree_search(tree, wrappers, found_warnings)
        calls = {p: _cache_form(lines) for p, lines in found.items()}
        skipped = {w.path: w.message for w in found_warnings if w.line == 0}
    else:
        # Compiled only when a changed file is to be searched (84 names on 6.12: 1 ms).
        exact = re.compile(calls_pattern(remembered).encode()) if remembered and changed else None
        assert seen is not None     # what changed is known from it
        kept = set(seen["candidates"]) - changed
        calls = {p: lines for p, lines in seen["calls"].items() if p not in changed}
        skipped = {p: m for p, m in seen["skipped"].items() if p not in changed}
        for rel in sorted(changed):
            is_candidate, lines, problem = _search_file(tree, rel, exact)
            if is_candidate:
                kept.add(rel)
            if lines:
                calls[rel] = _cache_form(lines)
            if problem:
                skipped[rel] = problem
        candidates = sorted(kept)
        found_warnings = [Warning_(p, 0, m) for p, m in sorted(skipped.items())]
    record = {"tree_id": tree_id, "dirty": sorted(dirty), "wrappers": sorted(remembered),
              "candidates": candidates, "calls": dict(sorted(calls.items())), "skipped": dict(sorted(skipped.items()))}
    # Written only when it says something new: a rescan of an unchanged checkout writes nothing
    # (reading the entry already marked it used, for pruning).
    if seen is None or record != {k: v for k, v in seen.items() if k != "tree"}:
        cache.put(SEARCHED, root, record)
    cache.tell()
    warnings.extend(found_warnings)
    return candidates, _calls_of(record, wrappers)


def remembered_search(tree: KernelTree, wrappers: frozenset):
    """(candidates, calls_found, warnings) as the last search of this checkout left them, read
    without asking git what changed since; None when nothing usable is remembered.

    For a command that checks afterwards (KernelTree.search_stands, which runs search_checkout)
    and does its work again if the answer differs: its work then runs beside 'git status',
    not after it."""

    root = str(tree.root)
    cache = Cache.for_source(tree)
    seen = cache.get(SEARCHED, root)
    cache.tell()
    if seen is None or not frozenset(seen["wrappers"]) >= wrappers:
        return None
    tree.run.search_read_ahead[root] = seen     # the search that checks it reads it from here
    return (list(seen["candidates"]), _calls_of(seen, wrappers),
            [Warning_(p, 0, m) for p, m in sorted(seen["skipped"].items())])


def _calls_of(record: dict, wrappers: frozenset) -> dict:
    """{path: ((line, bytes), ...)} of the record's calls of the wrappers asked for (it may hold more)."""
    from pvscan.source.search import calls_pattern

    if not wrappers:
        return {}
    asked = re.compile(calls_pattern(wrappers).encode()) if frozenset(record["wrappers"]) != wrappers else None
    out = {}
    for p, lines in record["calls"].items():
        rows = tuple((row, text.encode("utf-8", "surrogateescape")) for row, text in lines)
        if asked is not None:
            rows = tuple((row, text) for row, text in rows if asked.search(text))
        if rows:
            out[p] = rows
    return out


def _cache_form(lines: Iterable[tuple[int, bytes]]) -> list:
    """(line, bytes) pairs in the cache's form: [line, the bytes as a str (surrogateescape)]."""
    return [[row, text.decode("utf-8", "surrogateescape")] for row, text in lines]


def _search_file(tree: KernelTree, rel: str, exact: re.Pattern[bytes] | None):
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
    lines: tuple[tuple[int, bytes], ...] = ()
    if exact is not None:
        lines = tuple((n, line) for n, line in enumerate(data.split(b"\n"), 1) if exact.search(line))
    return bool(_LOOSE_RE.search(data) and CANDIDATE_RE.search(data)), lines, None


# The tracked files' changes: what the index and the work tree say, without the directory walk.
_TRACKED = ("status", "--porcelain=v1", "-z", "--untracked-files=no", "--no-renames")
# Every other file as well. "traditional" with --untracked-files=all lists every file of an ignored
# directory; "matching" would list only the directory, and a change inside it would go unseen.
_STATUS = ("status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=traditional", "--no-renames")
_OTHER = (b"??", b"!!")
# A directory changed this close to its listing may have changed in the same clock tick.
_RACY_NS = 2_000_000_000


def start_status(run: Run, path: str, alone: bool = False) -> None:
    """Begin the 'git status' of the tracked files now, when path is the top of a git checkout,
    so that it runs while Python imports what the scan needs (0.08 s on 6.12, as long as the
    imports); _head_and_status() collects it. Nothing else is started, and nothing from the tree.

    alone: on one thread, for a command whose own work runs beside it (a review, on the
    checkout's remembered search). git checks the index in 20 threads whatever the machine
    (preload-index), and on two cores those starve the Python process beside them: importing
    what a review needs took 0.37 s beside them, 0.16 s beside one thread, 0.16 s alone. One
    thread takes 0.15 s on 6.12 instead of 0.09 s."""
    root = os.path.realpath(path)
    if root in run.status_begun or not os.path.exists(os.path.join(root, ".git")):
        return
    run.status_begun[root] = _start_git(root, _TRACKED, ("-c", "core.preloadIndex=false") if alone else ())


def _start_git(root: str, args: Sequence[str], config: tuple[str, ...] = ()):
    from pvscan.source.git import git_environment

    try:
        return subprocess.Popen([*_GIT, *config, "-C", root, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=git_environment())
    except OSError:
        return None


def _output(proc: subprocess.Popen[bytes]) -> bytes | None:
    from pvscan.errors import PvscanError
    from pvscan.source.external import timeout

    try:
        out, _ = proc.communicate(timeout=timeout())
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        command = proc.args if isinstance(proc.args, list) else [proc.args]
        raise PvscanError(f"git ({' '.join(map(str, command[-5:]))}) did not finish within {timeout()} s "
                          "(PVSCAN_EXTERNAL_TIMEOUT sets the bound)") from None
    return out if proc.returncode == 0 else None


def run_state(tree: KernelTree, options: str) -> str | None:
    """A digest of what a scan of this checkout reads, with the command's options: the commit's
    tree id, the work tree's status (_head_and_status: tracked files, untracked and ignored
    sources) and the bytes of each source file it lists and of the top Makefile. Equal digests,
    equal output. None when the tree is not the top of a git checkout with a commit, git fails,
    or git cannot see every file (another repository inside).

    'git status' is kept for this run's search (search_checkout), which then needs no second
    one; forget() drops it when the run ends without searching."""
    import hashlib

    root = str(tree.root)
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    tree_id, status = _head_and_status(tree.run, root)
    tree.run.status_collected[root] = tree_id, status    # for this run's search, whatever git said
    if tree_id is None:
        return None
    h = hashlib.sha256(b"pvscan-run-state/1\0" + options.encode("utf-8", "surrogateescape") + b"\0"
                       + os.fsencode(root) + b"\0" + tree_id.encode() + b"\0" + status)
    for rel in sorted({p for p in _listed(status) if is_searched(p)} | {"Makefile"}):
        h.update(b"\0" + os.fsencode(rel) + b"\0" + file_digest(os.path.join(root, rel)))
    return h.hexdigest()


def forget(tree: KernelTree) -> None:
    """Drop the 'git status' run_state kept, if this run did not use it."""
    tree.run.status_collected.pop(str(tree.root), None)
    proc = tree.run.status_begun.pop(str(tree.root), None)
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


def _head_and_status(run: Run, root: str) -> tuple[str | None, bytes]:
    """(the commit's tree id, the work tree's status), or (None, b"") when git cannot say: what
    run_state kept for this run, else asked now (collecting start_status's 'git status').

    The status is 'git status --porcelain=v1 -z' of the tracked files followed by a '?? path'
    record for each untracked or ignored .c/.h file (sorted; which of the two does not matter
    to a search that reads both). Listing those means reading every directory (0.2 s on
    6.12, against 0.08 s for the tracked files alone), so the list is remembered with the
    modification time of every directory of the work tree, and used again while none has
    changed: a file cannot appear, vanish or be renamed without changing its directory."""
    if root in run.status_collected:
        return run.status_collected.pop(root)
    proc = run.status_begun.pop(root, None) or _start_git(root, _TRACKED)
    head = _start_git(root, ("rev-parse", "--verify", "--quiet", "HEAD^{tree}"))
    others = _others(run, root)                   # while git runs
    tree_id = _output(head) if head is not None else None
    tracked = _output(proc) if proc is not None else None
    # A directory git lists whole ('?? sub/') is another repository inside this one: git does not
    # look into it, the whole-tree search does. git cannot say what changed there.
    if not tree_id or tracked is None or others is None or any(p.endswith("/") for p in others):
        return None, b""
    records = [r for r in tracked.split(b"\0") if len(r) > 3]
    records += [b"?? " + os.fsencode(p) for p in others]
    return tree_id.strip().decode(), b"".join(r + b"\0" for r in records)


# Past this many changed directories, one listing of the whole work tree is quicker.
_MAX_RELISTED = 64


def _others(run: Run, root: str) -> list[str] | None:
    """The untracked and ignored sources of the work tree (None when git fails): the remembered
    list while no directory changed, listed again in the directories that did, or listed whole."""

    cache = Cache.for_source_root(run, root)
    seen = cache.get(WORKTREE, root)
    cache.tell()
    if seen is not None:
        changed = _changed_directories(root, seen["dirs"])
        if changed == []:
            return seen["others"]
        if changed is not None:
            return _list_others(root, cache, seen, changed)
    return _list_others(root, cache)


def _changed_directories(root: str, dirs: dict) -> list[str] | None:
    """The outermost remembered directories whose time changed; None when the top did, when too
    many did, or when one vanished without its parent changing (then nothing is to be trusted)."""
    top = root.rstrip("/") + "/"
    changed, gone = set(), []
    for rel, mtime in dirs.items():
        try:
            st = os.lstat(top + rel)
        except OSError:
            gone.append(rel)
            continue
        if st.st_mtime_ns != mtime or not stat.S_ISDIR(st.st_mode):
            changed.add(rel)
    if "." in changed or len(changed) > _MAX_RELISTED:
        return None
    outermost = sorted(d for d in changed if not any(a in changed for a in _ancestors(d)))
    if any(not any(a in changed for a in _ancestors(g)) for g in gone):
        return None
    return outermost


def _ancestors(rel: str):
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        yield rel


def _list_others(root: str, cache: Cache, seen: dict | None = None, where: list | None = None) -> list[str] | None:
    """The untracked and ignored sources 'git status' lists (in the directories where, and the
    rest from seen, when given), remembered with the modification time of every directory,
    read while git runs.

    A directory changed after git began may or may not be in its listing: one whose time is
    that recent (or later than now) is not trusted, and nothing is remembered."""
    import time

    began = time.time_ns()
    proc = _start_git(root, _STATUS + (("--", *(f":(literal){d}/" for d in where)) if where else ()))
    dirs: dict[str, int] | None = {} if where else _directory_times(root, ".")
    for d in where or ():
        walked = _directory_times(root, d)
        if walked is None or dirs is None:
            dirs = None
            break
        dirs.update(walked)
    status = _output(proc) if proc is not None else None
    if status is None:
        return None
    others = {p for r in status.split(b"\0") if r[:2] in _OTHER and len(r) > 3
              if is_searched(p := os.fsdecode(r[3:])) or (p.endswith("/") and is_searched_dir(p))}
    late = time.time_ns()
    if where:
        assert seen is not None     # the directories where are those that changed since seen

        def inside(p: str) -> bool:
            return any(p == d or p.startswith(d + "/") for d in where)

        others |= {p for p in seen["others"] if not inside(p)}
        if dirs is not None:
            dirs.update((d, t) for d, t in seen["dirs"].items() if not inside(d))
    listed = sorted(others)
    if dirs is not None and not any(m >= began - _RACY_NS or m > late for m in dirs.values()):
        cache.put(WORKTREE, root, {"dirs": dict(sorted(dirs.items())), "others": listed})
    return listed


def _directory_times(root: str, start: str) -> dict[str, int] | None:
    """{relative directory ('.' for the top): st_mtime_ns} of start and every directory below it
    that can hold a file the search reads (files.is_searched: none hidden, none of the excluded
    top-level directories, whose 1,698 of 6.12's 5,760 cost a third of the check), symlinks not
    followed; None when one cannot be read."""
    out = {}
    stack = [start]
    while stack:
        rel = stack.pop()
        full = root if rel == "." else os.path.join(root, rel)
        try:
            out[rel] = os.lstat(full).st_mtime_ns
            entries = list(os.scandir(full))
        except OSError:
            return None
        for e in entries:
            if e.is_dir(follow_symlinks=False) and searched_entry(rel, e.name):
                stack.append(e.name if rel == "." else f"{rel}/{e.name}")
    return out


def _listed(status: bytes) -> set[str]:
    """The paths of 'git status --porcelain=v1 -z --no-renames' records ('XY path')."""
    return {os.fsdecode(record[3:]) for record in status.split(b"\0") if len(record) > 3}


def _changed(root: str, old_tree: str, new_tree: str, dirty: set) -> set[str] | None:
    changed = set(dirty)
    if old_tree != new_tree:
        out = _git(root, "diff-tree", "-r", "-z", "--no-renames", "--name-only", old_tree, new_tree)
        if out is None:
            return None
        changed |= {p for p in (os.fsdecode(r) for r in out.split(b"\0") if r) if is_searched(p)}
    return changed


def _git(root: str, *args) -> bytes | None:
    from pvscan.source.external import run_bounded
    from pvscan.source.git import git_environment

    try:
        proc = run_bounded([*_GIT, "-C", root, *args], f"git {args[0]}", root, env=git_environment())
    except OSError:
        return None          # no git: the tree is read as a plain directory
    return proc.stdout if proc.returncode == 0 else None
