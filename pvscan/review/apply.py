"""Applying a file's hunks in memory, never on disk, as GNU patch would, hunk by hunk.

Each hunk is looked for exactly, where its header says and then at the
nearest offset (the file may have moved around it); failing that, its
result is looked for (the file already holds the hunk: the tree has the
patch, or a backport of it); failing that, with fuzz, by GNU patch's rule
(_place). A hunk that cannot be placed does not apply. Each hunk's
outcome is kept, with its offset and fuzz, so that review can say so. The
result keeps which new lines the patch added and which old lines it
removed, so annotations can be anchored to them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pvscan.review.patch import FilePatch


FUZZ = 2   # GNU patch's default fuzz factor


@dataclass(frozen=True)
class HunkOutcome:
    """What became of one hunk: applied (with its offset and fuzz), already there, or failed."""

    patch_line: int              # the '@@' line in the patch
    header: str                  # '@@ -a,b +c,d @@'
    status: str                  # "applied" | "already" | "failed"
    at: int = 0                  # 1-based line of the file where it applied (or was found)
    offset: int = 0              # lines from where its header said
    fuzz: int = 0                # context lines at each end it did without
    reason: str = ""             # for "failed"

    @property
    def new_start(self) -> int:
        """The line its header gives on the new side (where the patch's author saw it)."""
        return max(1, int(self.header.split("+", 1)[1].split(" ", 1)[0].split(",")[0]))


class KeptLines:
    """The lines a patch keeps, each (old line, new line), 1-based, in order: held as runs of
    consecutive lines, (old, new, count). A tuple a line took 125 MB for the whole 6.1 -> 6.12
    x86 change (a million kept lines); its runs take a few thousand."""

    __slots__ = ("runs",)

    def __init__(self, runs: list[tuple[int, int, int]] | None = None) -> None:
        self.runs: list = list(runs or [])

    def add(self, old: int, new: int, count: int = 1) -> None:
        if count <= 0:
            return
        if self.runs:
            o, n, c = self.runs[-1]
            if o + c == old and n + c == new:
                self.runs[-1] = (o, n, c + count)
                return
        self.runs.append((old, new, count))

    def swapped(self) -> KeptLines:
        """(new line, old line) of each, in order of the new line."""
        return KeptLines(sorted((n, o, c) for o, n, c in self.runs))

    def nearest(self, old_line: int) -> tuple[int, int] | None:
        """The kept (old, new) whose old line is nearest old_line (the earlier on a tie)."""
        i = bisect.bisect_right(self.runs, (old_line, float("inf"), 0))
        near = []
        if i > 0:
            o, n, c = self.runs[i - 1]
            at = min(old_line, o + c - 1)        # inside the run, or its last line
            near.append((at, n + at - o))
        if i < len(self.runs):
            o, n, _ = self.runs[i]
            near.append((o, n))
        return min(near, key=lambda p: (abs(p[0] - old_line), p[0] > old_line)) if near else None

    def __iter__(self):
        for o, n, c in self.runs:
            for k in range(c):
                yield o + k, n + k

    def __len__(self) -> int:
        return sum(c for _, _, c in self.runs)

    def __bool__(self) -> bool:
        return bool(self.runs)


@dataclass
class Applied:
    """One file with a patch's hunks applied, and the lines they added, removed and kept."""

    text: bytes
    added: set = field(default_factory=set)      # 1-based lines of the new text the patch added
    removed: set = field(default_factory=set)    # 1-based lines of the old text the patch removed
    hunks: list = field(default_factory=list)    # HunkOutcome per hunk, in order
    kept: KeptLines = field(default_factory=KeptLines)   # every line the patch keeps

    @property
    def complete(self) -> bool:
        """Every hunk applied (offsets and fuzz allowed)."""
        return all(h.status == "applied" for h in self.hunks)

    @property
    def present(self) -> bool:
        """Nothing applied because every hunk is already in the file."""
        return bool(self.hunks) and all(h.status == "already" for h in self.hunks)



def apply_file(old: bytes | None, fp: FilePatch, reverse: bool = False, fuzz: int = FUZZ) -> Applied:
    """The file with every hunk of fp that can be placed applied; the others are outcomes, not errors."""
    old_lines = [] if not old else old.decode("utf-8", "surrogateescape").split("\n")
    trailing = bool(old_lines) and old_lines[-1] == ""
    if trailing:
        old_lines.pop()
    out: list[str] = []
    added: set[int] = set()
    removed: set[int] = set()
    outcomes: list[HunkOutcome] = []
    kept = KeptLines()
    index = line_index(old_lines)
    pos = 0          # index into old_lines: what is before it is already copied
    drift = 0        # the offset of the last hunk placed: the next one likely moved as much
    for hunk in fp.hunks:
        lines = [(_swap(t) if reverse else t, s) for t, s in hunk.lines]
        header = hunk.header
        start = (hunk.new_start if reverse else hunk.old_start) - 1
        if (hunk.new_len if reverse else hunk.old_len) == 0:
            start += 1   # '@@ -N,0' inserts after line N
        start = max(start, 0)
        # As GNU patch: the exact hunk first, then the exact result (the file already has it),
        # and fuzz only when neither is there. Fuzz tried first would apply a hunk a second
        # time beside its own result, a few lines away, where the context is alike.
        at_top = start == 0
        placed, seen = _place_either_way(old_lines, lines, start + drift, pos, fuzz, at_top, index)
        if seen is not None:
            at = seen[0] - seen[2]
            outcomes.append(HunkOutcome(hunk.patch_line, header, "already", at + 1, at - start))
            continue
        if placed is None:
            outcomes.append(HunkOutcome(hunk.patch_line, header, "failed",
                                        reason=f"its lines are not in the file near line {start + 1}"))
            continue
        at, lines, top, used = placed
        drift = at - top - start
        outcomes.append(HunkOutcome(hunk.patch_line, header, "applied", at - top + 1, drift, fuzz=used))
        kept.add(pos + 1, len(out) + 1, at - pos)
        out.extend(old_lines[pos:at])
        pos = _copy_hunk(old_lines, lines, at, out, added, removed, kept)
    kept.add(pos + 1, len(out) + 1, len(old_lines) - pos)
    out.extend(old_lines[pos:])
    text = "\n".join(out) + ("\n" if out and (trailing or not old_lines) else "")
    return Applied(text.encode("utf-8", "surrogateescape"), added, removed, outcomes, kept)


def _place_either_way(old_lines: list[str], lines: list[tuple[str, str]], start: int, floor: int, fuzz: int,
                      at_top: bool, index: dict[str, list[int]]) -> tuple:
    """(where the hunk goes forward, where its result already is): at each fuzz, the hunk forward
    and then its result (GNU patch's "Reversed (or previously applied) patch detected"), so that
    a hunk already in the file is never applied a second time beside itself with more fuzz."""
    backward = [(_swap(t), s) for t, s in lines]
    for level in range(fuzz + 1):
        placed = _place(old_lines, lines, start, floor, level, at_top, index)
        if placed is not None:
            return placed, None
        seen = _place(old_lines, backward, start, floor, level, at_top, index)
        if seen is not None:
            return None, seen
    return None, None


def _copy_hunk(old_lines: list[str], lines: list[tuple[str, str]], at: int, out: list, added: set, removed: set,
               kept: KeptLines) -> int:
    """The hunk's lines applied at old line index at, into out; the old line index after it."""
    pos = at
    for tag, s in lines:
        if tag == " ":
            out.append(old_lines[pos])
            kept.add(pos + 1, len(out))
            pos += 1
        elif tag == "-":
            removed.add(pos + 1)
            pos += 1
        else:
            out.append(s)
            added.add(len(out))
    return pos


def _place(old_lines: list[str], lines: list[tuple[str, str]], start: int, floor: int, fuzz: int, at_top: bool = False,
           index: dict[str, list[int]] | None = None) -> tuple[int, list[tuple[str, str]], int, int] | None:
    """(index where the hunk's old side matches, its lines as applied, context lines trimmed at the
    top, fuzz used) at the least fuzz, then the nearest place; None if it matches nowhere.

    Fuzz is GNU patch's (locate_hunk): with f, the side with the most context may leave f lines
    unmatched and the other side f less. So a hunk with less context below than above was made at
    the end of its file, and matches only at the end of the file until the fuzz covers the
    difference; the same at the top for a hunk starting at line 1 (at_top)."""
    prefix = next((i for i, (t, _) in enumerate(lines) if t != " "), len(lines))
    suffix = next((i for i, (t, _) in enumerate(reversed(lines)) if t != " "), len(lines))
    context = max(prefix, suffix)
    pattern = [s for t, s in lines if t in " -"]
    at: int | None
    for f in range(min(fuzz, context) + 1):
        top, bottom = f + prefix - context, f + suffix - context
        if top < 0 and at_top:
            if bottom < 0 and pattern != old_lines:
                continue
            kept = lines[:len(lines) - max(bottom, 0)]
            want = pattern[:len(pattern) - max(bottom, 0)]
            if floor == 0 and old_lines[:len(want)] == want:
                return 0, kept, 0, f
            continue
        top = max(top, 0)
        if bottom < 0:
            at = len(old_lines) - len(pattern) + top
            want = pattern[top:]
            if at >= floor and old_lines[at:] == want:
                return at, lines[top:], top, f
            continue
        kept = lines[top:len(lines) - bottom]
        want = pattern[top:len(pattern) - bottom]
        if not want and f:
            break
        at = _find(old_lines, want, max(start + top, 0), floor, index)
        if at is not None:
            return at, kept, top, f
    return None


def _swap(tag: str) -> str:
    return {"+": "-", "-": "+"}.get(tag, tag)


def _find(lines: list[str], want: list[str], start: int, floor: int,
          index: dict[str, list[int]] | None = None) -> int | None:
    """Where want lies in lines at or after floor, nearest start (at the same distance, the
    later place first, as GNU patch tries them); None if nowhere. With index (line_index(lines)),
    only the places where want's rarest line stands are tried: 2,000 failing hunks against a
    200,000-line file took minutes when every offset was."""
    n = len(want)

    def fits(at):
        return at >= floor and at + n <= len(lines) and lines[at:at + n] == want

    if fits(start):
        return start
    if index is not None and want:
        k = min(range(n), key=lambda i: len(index.get(want[i], ())))
        places = [p - k for p in index.get(want[k], ())]
        places.sort(key=lambda at: (abs(at - start), at < start))
        return next((at for at in places if at != start and fits(at)), None)
    for delta in range(1, max(len(lines), 1) + 1):
        for at in (start + delta, start - delta):   # GNU patch tries later lines first
            if fits(at):
                return at
        if start - delta < floor and start + delta > len(lines):
            break
    return None


def line_index(lines: list[str]) -> dict:
    """{line: [its indices]} of a file's lines, for _find."""
    index: dict = {}
    for i, line in enumerate(lines):
        index.setdefault(line, []).append(i)
    return index
