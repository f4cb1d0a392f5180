"""Reading patches: a unified diff, or an mbox of one or more git format-patch mails.

Only what review needs is kept: per patch its subject and author, per file
the old and new path, its status, and the hunks with their lines. Paths
that leave the tree (absolute, or with '..') are refused for that file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError

if TYPE_CHECKING:
    pass

# Line numbers of at most 18 digits: a longer one is no line of any file (and past Python's
# 4,300-digit bound int() would raise); the header is then malformed, an error naming the line.
_HUNK = re.compile(r"^@@ -(\d{1,18})(?:,(\d{1,18}))? \+(\d{1,18})(?:,(\d{1,18}))? @@")
_DIFF_GIT = re.compile(r'^diff --git ("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$')
_C_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


@dataclass
class Hunk:
    """One '@@' hunk of a file's diff."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    # Each line as the patch has it, its tag (' ', '-', '+') first, while the hunk is read; once
    # its counts are met, one string of them all (seal): a line as a string of its own costs 49
    # bytes beside its text, and a 200 MB patch has 3.4 million lines.
    building: list = field(default_factory=list)
    patch_line: int = 0                          # line of the '@@' in the input
    old_seen: int = 0
    new_seen: int = 0
    sealed: str | None = None

    def add(self, line: str) -> None:
        self.building.append(line)
        tag = line[0]
        self.old_seen += tag in " -"
        self.new_seen += tag in " +"
        if self.full:
            self.sealed, self.building = "\n".join(self.building), []

    @property
    def raw(self) -> list:
        """Each line as the patch has it, its tag first."""
        return self.sealed.split("\n") if self.sealed is not None else self.building

    @property
    def header(self) -> str:
        """'@@ -a,b +c,d @@', as the review names the hunk."""
        return f"@@ -{self.old_start},{self.old_len} +{self.new_start},{self.new_len} @@"

    @property
    def lines(self) -> list:
        """(tag, text) of each line."""
        return [(line[0], line[1:]) for line in self.raw]

    @property
    def full(self) -> bool:
        return self.old_seen >= self.old_len and self.new_seen >= self.new_len


@dataclass
class FilePatch:
    """One file's part of a patch."""

    old_path: str | None        # None for a new file
    new_path: str | None        # None for a deleted file
    hunks: list = field(default_factory=list)
    binary: bool = False
    rename: bool = False
    problem: str | None = None  # why this file cannot be reviewed (a per-file warning)
    patch_line: int = 0
    created: bool = False       # 'new file mode': the file must not exist yet
    blobs: tuple | None = None  # 'index <old>..<new>': the git blob ids of the two sides

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


@dataclass
class Patch:
    """One patch: a mail of an mbox, or a plain diff."""

    subject: str
    author: str | None
    date: str | None
    files: list = field(default_factory=list)
    base_commit: str | None = None   # the 'base-commit:' trailer git format-patch --base writes
    lines: int = 0                   # its lines in the input (checkpatch's 'lines checked')


def read_patch_bytes(data: bytes, source: str) -> list[Patch]:
    if b"\0" in data[:8192]:
        raise PvscanError("not a patch: binary data", source)
    return read_patch_lines(data.decode("utf-8", "surrogateescape").replace("\r\n", "\n").split("\n"), source)


def read_patch_lines(lines: list[str], source: str) -> list[Patch]:
    """The patches of an input's lines (read_input_lines gives them without holding the whole)."""
    patches = _split_mbox(lines)
    out = [_parse_one(chunk, start, source) for chunk, start in patches]
    out = [p for p in out if p.files]
    if not out:
        raise PvscanError("not a patch: no 'diff --git' or '---/+++' file header found", source)
    return out


def _split_mbox(lines: list[str]) -> list[tuple[list[str], int]]:
    """[(lines, first line number)] one per mail, or the whole input as one."""
    starts = [i for i, l in enumerate(lines) if l.startswith("From ") and re.match(r"From \S+ .*\d{4}", l)]
    if not starts:
        return [(lines, 1)]
    starts.append(len(lines))
    return [(lines[a:b], a + 1) for a, b in zip(starts, starts[1:])]


def _parse_one(lines: list[str], first: int, source: str) -> Patch:
    """One mail's (or one plain input's) patch: its headers, then each file's header and hunks."""
    subject, author, date, i = _mail_headers(lines)
    patch = Patch(subject, author, date, lines=len(lines) - (1 if lines and lines[-1] == "" else 0))
    current = None
    hunk = None
    while i < len(lines):
        line = lines[i]
        number = first + i
        if hunk is not None and not hunk.full:
            i = _hunk_line(hunk, lines, i, first, source)
            continue
        if line.startswith("diff --git ") or (line.startswith("--- ") and i + 1 < len(lines)
                                              and lines[i + 1].startswith("+++ ")):
            current, i = _file_start(patch, current, lines, i, first, source)
            hunk = None
        elif current is not None and line.startswith("@@"):
            hunk = _hunk(line, source, number)
            current.hunks.append(hunk)
        elif current is not None and _extended_header(current, line, source, number):
            pass
        elif line.startswith("base-commit: ") and re.fullmatch(r"[0-9a-f]{7,64}", line[13:].strip()):
            patch.base_commit = line[13:].strip()
        i += 1
    if hunk is not None and not hunk.full:
        raise _short_hunk(hunk, source, first + len(lines) - 1)
    for f in patch.files:
        _settle_paths(f)
    return patch


def _settle_paths(f: FilePatch) -> None:
    """A file patch's sides as its hunks leave them ('diff -N' names an absent file and gives it
    an empty side), and what is wrong with its paths."""
    if f.hunks and all(h.old_start == 0 and h.old_len == 0 for h in f.hunks):
        f.old_path = None
    if f.hunks and all(h.new_start == 0 and h.new_len == 0 for h in f.hunks):
        f.new_path = None
    f.problem = _path_problem(f)


def _mail_headers(lines: list[str]) -> tuple[str, str | None, str | None, int]:
    """(subject, author, date, the index of the first line after the headers): of an mbox mail
    ('From <sha> <date>'), or a quilt or plain mail patch that starts with its headers."""
    subject, author, date = "", None, None
    i = 0
    in_headers = bool(lines) and (lines[0].startswith("From ")
                                  or re.match(r"(?i)(from|subject|date):", lines[0]) is not None)
    while in_headers and i < len(lines) and lines[i] != "":
        line = lines[i]
        if line.lower().startswith("subject:"):
            subject = line[8:].strip()
            while i + 1 < len(lines) and lines[i + 1].startswith((" ", "\t")):
                i += 1
                subject += " " + lines[i].strip()
        elif line.lower().startswith("from:"):
            author = line[5:].strip()
        elif line.lower().startswith("date:"):
            date = line[5:].strip()
        i += 1
    return subject, author, date, i


def _hunk_line(hunk: Hunk, lines: list[str], i: int, first: int, source: str) -> int:
    """Line i, inside a hunk whose counts are not met: its counts rule, as in 'git apply' ('--- x'
    is a removed line here). The index of the next line."""
    line = lines[i]
    if line[:1] in (" ", "-", "+"):
        hunk.add(line)
    elif line == "":
        hunk.add(" ")       # a blank context line whose space was stripped
    elif not line.startswith("\\"):   # '\ No newline at end of file' belongs to the hunk
        raise _short_hunk(hunk, source, first + i)
    i += 1
    if hunk.full and i < len(lines) and _overruns(lines, i):
        raise PvscanError(f"the hunk at line {hunk.patch_line} has more lines than its header counts "
                          f"({hunk.old_len} old, {hunk.new_len} new; corrupt patch)", source, first + i)
    return i


def _file_start(patch: Patch, current: FilePatch | None, lines: list[str], i: int, first: int, source: str) -> tuple:
    """(the file patch line i begins or names, the index of its last header line): 'diff --git',
    or '--- a/x' and '+++ b/x', which name the file of a 'diff --git' just before them."""
    line, number = lines[i], first + i
    if line.startswith("diff --git "):
        a, b = _git_paths(line, source, number)
        current = FilePatch(_strip_prefix(a), _strip_prefix(b), patch_line=number)
        patch.files.append(current)
        return current, i
    old = _header_path(line[4:], source, number)
    new = _header_path(lines[i + 1][4:], source, number + 1)
    if (current is None or current.hunks or current.binary
            or (current.patch_line < number - 8 and not _in_git_header(lines, i))):
        current = FilePatch(old, new, patch_line=number)
        patch.files.append(current)
    else:
        current.old_path, current.new_path = old, new
    return current, i + 1


def _extended_header(current: FilePatch, line: str, source: str, number: int) -> bool:
    """Whether line is one of git's extended headers of the current file (new or deleted file,
    rename, index, binary), which it then records."""
    if line.startswith("new file mode"):
        current.old_path = None
        current.created = True
    elif line.startswith("deleted file mode"):
        current.new_path = None
    elif line.startswith("rename from "):
        current.old_path = _unquote(line[12:].strip(), source, number)
        current.rename = True
    elif line.startswith("rename to "):
        current.new_path = _unquote(line[10:].strip(), source, number)
        current.rename = True
    elif re.match(r"index [0-9a-f]{7,64}\.\.[0-9a-f]{7,64}( [0-7]+)?$", line):
        current.blobs = tuple(line[6:].split(" ")[0].split(".."))
    elif line.startswith("Binary files ") or line == "GIT binary patch":
        current.binary = True
    else:
        return False
    return True


def _in_git_header(lines, i) -> bool:
    j = i - 1
    while j >= 0 and not lines[j].startswith("diff --git "):
        if lines[j].startswith("@@"):
            return False
        j -= 1
    return j >= 0


def _strip_prefix(path: str) -> str:
    """Drop the first path component, as 'patch -p1' does: a/x, b/x, linux-6.1/x -> x."""
    return path.split("/", 1)[1] if "/" in path else path


def _header_path(text: str, source: str, number: int) -> str | None:
    text = text.strip()
    path = _unquote(text, source, number) if text.startswith('"') else text.split("\t")[0].strip()
    if path == "/dev/null":
        return None
    return _strip_prefix(path)


def _git_paths(line: str, source: str, number: int) -> tuple[str, str]:
    """The two paths of 'diff --git A B': quoted, plain, or plain with spaces ('a/x y b/x y')."""
    m = _DIFF_GIT.match(line)
    if m:
        return _unquote(m.group(1), source, number), _unquote(m.group(2), source, number)
    rest = line[len("diff --git "):]
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return rest[:half], rest[half + 1:]
    raise PvscanError("malformed 'diff --git' line: expected two paths", source, number)


def _hunk(line: str, source: str, number: int) -> Hunk:
    """A hunk from its '@@ -a,b +c,d @@' header; anything else there is an error naming the line."""
    if line.startswith("@@@"):
        raise PvscanError("a combined diff (of a merge) is not a patch review can apply", source, number)
    m = _HUNK.match(line)
    if not m:
        raise PvscanError(f"malformed hunk header {line[:40]!r}: expected '@@ -A,B +C,D @@'", source, number)
    old_start, new_start = int(m.group(1)), int(m.group(3))
    old_len = int(m.group(2)) if m.group(2) is not None else 1
    new_len = int(m.group(4)) if m.group(4) is not None else 1
    if old_len == 0 and new_len == 0:
        raise PvscanError("hunk header counts no line on either side", source, number)
    return Hunk(old_start, old_len, new_start, new_len, patch_line=number)


def _overruns(lines: list[str], i: int) -> bool:
    """Whether line i, right after a hunk whose counts are met, is one more added or removed line
    (as git apply, which calls it corrupt): not the next file's '--- '/'+++ ' pair, not a
    mail's '-- ' signature line."""
    line = lines[i]
    if not line[:1] in ("+", "-") or line == "-- " or line == "--":
        return False
    if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
        return False
    return not line.startswith("+++ ")


def _short_hunk(hunk: Hunk, source: str, number: int) -> PvscanError:
    return PvscanError(f"the hunk at line {hunk.patch_line} ends after {hunk.old_seen} of its {hunk.old_len} "
                       f"old and {hunk.new_seen} of its {hunk.new_len} new lines (corrupt patch)", source, number)


def _unquote(path: str, source: str, number: int) -> str:
    """A path as git writes it: plain, or C-quoted with octal escapes for bytes outside ASCII."""
    if not path.startswith('"'):
        return path
    if len(path) < 2 or not path.endswith('"'):
        raise PvscanError("malformed quoted path", source, number)
    raw = path[1:-1].encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        nxt = raw[i + 1:i + 2]
        if nxt in _C_ESCAPES:
            out.append(_C_ESCAPES[nxt])
            i += 2
        elif re.fullmatch(rb"[0-3][0-7][0-7]", raw[i + 1:i + 4]):
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            raise PvscanError(f"malformed escape in quoted path {path[:40]!r}", source, number)
    return out.decode("utf-8", "surrogateescape")


def _path_problem(f: FilePatch) -> str | None:
    for p in (f.old_path, f.new_path):
        if p is None:
            continue
        if p.startswith("/") or ".." in p.split("/"):
            return f"path {p!r} leaves the tree; file not reviewed"
    if f.binary:
        return "binary change; file not reviewed"
    return None
