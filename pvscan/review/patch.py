"""Reading patches: a unified diff, or an mbox of one or more git format-patch mails.

Only what review needs is kept: per patch its subject and author, per file
the old and new path, its status, and the hunks with their lines. Paths
that leave the tree (absolute, or with '..') are refused for that file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pvscan.errors import PvscanError

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_DIFF_GIT = re.compile(r"^diff --git (\S+) (\S+)")


@dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: list = field(default_factory=list)   # (tag, text): tag in ' ', '-', '+'
    patch_line: int = 0                          # line of the '@@' in the input
    old_seen: int = 0
    new_seen: int = 0

    def add(self, tag: str, text: str) -> None:
        self.lines.append((tag, text))
        self.old_seen += tag in " -"
        self.new_seen += tag in " +"

    @property
    def full(self) -> bool:
        return self.old_seen >= self.old_len and self.new_seen >= self.new_len


@dataclass
class FilePatch:
    old_path: str | None        # None for a new file
    new_path: str | None        # None for a deleted file
    hunks: list = field(default_factory=list)
    binary: bool = False
    rename: bool = False
    problem: str | None = None  # why this file cannot be reviewed (a per-file warning)
    patch_line: int = 0

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


@dataclass
class Patch:
    subject: str
    author: str | None
    date: str | None
    files: list = field(default_factory=list)


def read_patch_bytes(data: bytes, source: str) -> list[Patch]:
    if b"\0" in data[:8192]:
        raise PvscanError("not a patch: binary data", source)
    text = data.decode("utf-8", "surrogateescape").replace("\r\n", "\n")
    lines = text.split("\n")
    patches = _split_mbox(lines)
    out = [_parse_one(chunk, start, source) for chunk, start in patches]
    out = [p for p in out if p.files]
    if not out:
        raise PvscanError("not a patch: no 'diff --git' or '---/+++' file header found", source)
    return out


def _split_mbox(lines):
    """[(lines, first line number)] one per mail, or the whole input as one."""
    starts = [i for i, l in enumerate(lines) if l.startswith("From ") and re.match(r"From \S+ .*\d{4}", l)]
    if not starts:
        return [(lines, 1)]
    starts.append(len(lines))
    return [(lines[a:b], a + 1) for a, b in zip(starts, starts[1:])]


def _parse_one(lines, first, source) -> Patch:
    subject, author, date = "", None, None
    i = 0
    in_headers = bool(lines) and lines[0].startswith("From ")
    while in_headers and i < len(lines):
        line = lines[i]
        if line == "":
            break
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
    patch = Patch(subject, author, date)
    current = None
    hunk = None
    while i < len(lines):
        line = lines[i]
        number = first + i
        m = _DIFF_GIT.match(line)
        if m:
            current = FilePatch(_strip_prefix(m.group(1)), _strip_prefix(m.group(2)), patch_line=number)
            patch.files.append(current)
            hunk = None
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old = _header_path(line[4:])
            new = _header_path(lines[i + 1][4:])
            if (current is None or current.hunks or current.binary
                    or (current.patch_line < number - 8 and not _in_git_header(lines, i))):
                current = FilePatch(old, new, patch_line=number)
                patch.files.append(current)
            else:
                current.old_path, current.new_path = old, new
            hunk = None
            i += 1
        elif current is not None and line.startswith(("new file mode", "deleted file mode")):
            if line.startswith("new"):
                current.old_path = None
            else:
                current.new_path = None
        elif current is not None and line.startswith("rename from "):
            current.old_path = line[12:].strip()
            current.rename = True
        elif current is not None and line.startswith("rename to "):
            current.new_path = line[10:].strip()
            current.rename = True
        elif current is not None and (line.startswith("Binary files ") or line == "GIT binary patch"):
            current.binary = True
        elif current is not None and _HUNK.match(line):
            m = _HUNK.match(line)
            hunk = Hunk(int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1),
                        int(m.group(3)), int(m.group(4) if m.group(4) is not None else 1), patch_line=number)
            current.hunks.append(hunk)
        elif hunk is not None and line[:1] in (" ", "-", "+") and not hunk.full:
            hunk.add(line[0], line[1:])
        elif hunk is not None and line == "" and not hunk.full:
            hunk.add(" ", "")   # a blank context line whose space was stripped
        elif line.startswith("\\ No newline"):
            pass
        i += 1
    for f in patch.files:
        # 'diff -N' names an absent file and gives it an empty side.
        if f.hunks and all(h.old_start == 0 and h.old_len == 0 for h in f.hunks):
            f.old_path = None
        if f.hunks and all(h.new_start == 0 and h.new_len == 0 for h in f.hunks):
            f.new_path = None
        f.problem = _path_problem(f)
    return patch


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


def _header_path(text: str) -> str | None:
    path = text.split("\t")[0].strip()
    if path == "/dev/null":
        return None
    return _strip_prefix(path)


def _path_problem(f: FilePatch) -> str | None:
    for p in (f.old_path, f.new_path):
        if p is None:
            continue
        if p.startswith("/") or ".." in p.split("/"):
            return f"path {p!r} leaves the tree; file not reviewed"
    if f.binary:
        return "binary change; file not reviewed"
    return None
