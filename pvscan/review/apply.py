"""Applying a file's hunks in memory, never on disk.

Strict like 'git apply': every context and removed line must match, at the
stated position or, failing that, at the nearest position where all of
the hunk matches. The result keeps which new lines the patch added and
which old lines it removed, so annotations can be anchored to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Applied:
    text: bytes
    added: set = field(default_factory=set)      # 1-based lines of the new text the patch added
    removed: set = field(default_factory=set)    # 1-based lines of the old text the patch removed


class DoesNotApply(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


def apply_file(old: bytes | None, fp, reverse: bool = False) -> Applied:
    old_lines = [] if not old else old.decode("utf-8", "surrogateescape").split("\n")
    trailing = bool(old_lines) and old_lines[-1] == ""
    if trailing:
        old_lines.pop()
    out: list[str] = []
    added, removed = set(), set()
    pos = 0   # index into old_lines
    for hunk in fp.hunks:
        lines = [(_swap(t) if reverse else t, s) for t, s in hunk.lines]
        start = (hunk.new_start if reverse else hunk.old_start) - 1
        if (hunk.new_len if reverse else hunk.old_len) == 0:
            start += 1   # '@@ -N,0' inserts after line N
        want = [s for t, s in lines if t in " -"]
        at = _find(old_lines, want, max(start, 0), pos)
        if at is None:
            raise DoesNotApply(hunk.patch_line, f"hunk at line {max(start, 0) + 1} does not match the file")
        out.extend(old_lines[pos:at])
        pos = at
        for tag, s in lines:
            if tag == " ":
                out.append(old_lines[pos])
                pos += 1
            elif tag == "-":
                removed.add(pos + 1)
                pos += 1
            else:
                out.append(s)
                added.add(len(out))
    out.extend(old_lines[pos:])
    text = "\n".join(out) + ("\n" if out and (trailing or not old_lines) else "")
    return Applied(text.encode("utf-8", "surrogateescape"), added, removed)


def _swap(tag: str) -> str:
    return {"+": "-", "-": "+"}.get(tag, tag)


def _find(lines, want, start, floor):
    n = len(want)

    def fits(at):
        return at >= floor and at + n <= len(lines) and lines[at:at + n] == want

    if fits(start):
        return start
    for delta in range(1, max(len(lines), 1) + 1):
        for at in (start - delta, start + delta):
            if fits(at):
                return at
        if start - delta < floor and start + delta > len(lines):
            break
    return None
