"""What pvscan reads from any source, and what it refuses: the rules every Source follows."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

    from pvscan.source import Source

# Directories that hold no kernel C built into the image: userspace copies of
# kernel headers live under tools/ (objtool, perf) and would otherwise show up
# as a second definition of every ops struct.
EXCLUDED_DIRS = ("tools", "Documentation", "samples", "scripts", "usr", "LICENSES", ".git")

SOURCE_SUFFIXES = (".c", ".h")

# The same files for every search (ripgrep, the Python walk, git grep, a checkout's changes):
# ripgrep's own 'c' type would add *.c.in, *.H and *.cats (6.12 has arch/um/kernel/config.c.in),
# and it skips hidden directories but not hidden files, where a walk kept both.
SOURCE_GIT_PATHSPEC = ("*.c", "*.h", *(f":(exclude){d}/" for d in EXCLUDED_DIRS),
                       ":(exclude,glob)**/.*", ":(exclude,glob)**/.*/**")


def is_searched(rel: str) -> bool:
    """Whether a path relative to the tree's top is one the searches read: a .c/.h file, under no
    excluded top-level directory, with no hidden part (a name that begins with '.')."""
    return rel.endswith(SOURCE_SUFFIXES) and is_searched_dir(rel)


def is_searched_dir(rel: str) -> bool:
    """Whether the searches go into this directory (or reach this path): not hidden, not under
    an excluded top-level directory."""
    parent = ""
    for name in rel.strip("/").split("/"):
        if not searched_entry(parent, name):
            return False
        parent = f"{parent}/{name}" if parent else name
    return True


def searched_entry(parent: str, name: str) -> bool:
    """Whether a walk of the tree goes on into the entry name of directory parent ('' or '.'
    for the top): not a hidden name, not an excluded directory at the top. The one rule that
    is_searched and every walk (KernelTree.walk_sources, a checkout's directory times) apply."""
    return not name.startswith(".") and (parent not in ("", ".") or name not in EXCLUDED_DIRS)


MAX_FILE_BYTES = 8 * 1024 * 1024


class SkippedFile(Exception):
    """A file that cannot be read as C source; the run goes on without it."""


class MissingFile(SkippedFile):
    """A file the tree does not have at all (where SkippedFile may be one it has but refuses)."""


@dataclass(frozen=True)
class KernelVersion:
    """The version the top Makefile gives."""

    version: int
    patchlevel: int
    sublevel: int
    extraversion: str

    def __str__(self) -> str:
        return f"{self.version}.{self.patchlevel}.{self.sublevel}{self.extraversion}"


def parse_version(makefile_head: bytes, where: str) -> KernelVersion:
    head = makefile_head[:4096].decode("utf-8", "replace")
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(\S*)", head, re.M))
    try:
        return KernelVersion(int(fields["VERSION"]), int(fields["PATCHLEVEL"]),
                             int(fields.get("SUBLEVEL") or 0), fields.get("EXTRAVERSION", ""))
    except (KeyError, ValueError):
        raise PvscanError("not a Linux kernel tree: the top-level Makefile sets no VERSION/PATCHLEVEL",
                          where) from None


def read_regular(path: str, limit: int, follow: bool = True) -> bytes:
    """A file's bytes: only a regular file, never waited on (a FIFO) or read without end (a
    device), never past limit, and (follow=False) never through a symlink; SkippedFile says
    why not (a missing file too)."""
    import errno
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    except OSError as e:
        missing = e.errno in (errno.ENOENT, errno.ENOTDIR)
        raise (MissingFile if missing else SkippedFile)(f"cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SkippedFile("not a regular file (a FIFO, device or socket)")
        if st.st_size > limit:
            raise SkippedFile(f"file is {st.st_size} bytes, over the {limit}-byte limit")
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise SkippedFile(f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise SkippedFile(f"file grew over the {limit}-byte limit while read")
    return data


# User-named inputs (ABI files, backend maps, baselines, .config, history JSON, patches) are
# small text files; anything bigger is not what the option wants.
MAX_INPUT_BYTES = 64 * 1024 * 1024


def read_input_lines(path: str | None, what: str, limit: int) -> tuple[list[str], bool]:
    """The lines of a file named on the command line (None: standard input), each decoded
    as it is read (bytes that are not UTF-8 as surrogate escapes, CRLF as LF), never the whole
    file at once: a 200 MB patch was held as its bytes, its text and its lines together. The
    same refusals as read_input. Also whether its first 8 KB hold a NUL byte (binary)."""
    shown = path if path is not None else "-"
    stream = _open_input(path, what, limit)
    lines: list[str] = []
    seen, binary, ended = 0, False, True
    try:
        # Never more than the limit read at once: a line is read up to what is left of it, so
        # that standard input without a newline stops at the limit, not at the end of memory.
        for raw in iter(lambda: stream.readline(limit + 1 - seen), b""):
            if seen < 8192 and b"\0" in raw[:8192 - seen]:
                binary = True
            seen += len(raw)
            if seen > limit:
                raise PvscanError(f"{what} is over {limit} bytes", shown)
            ended = raw.endswith(b"\n")
            end = -2 if raw.endswith(b"\r\n") else -1 if ended else len(raw)
            lines.append(raw[:end].decode("utf-8", "surrogateescape"))
    except OSError as e:
        raise PvscanError(f"cannot read {what}: {e.strerror or e}", shown) from None
    finally:
        if path is not None:
            stream.close()
    if ended:
        lines.append("")            # as split('\n') gives after a last newline
    return lines, binary


def _open_input(path: str | None, what: str, limit: int) -> BinaryIO:
    """A binary stream of the file named on the command line (None: standard input), refused
    as read_input refuses it: a directory, what is not a regular file, a file over the limit."""
    import stat
    import sys

    if path is None:
        return sys.stdin.buffer
    if os.path.isdir(path):
        raise PvscanError(f"cannot read {what}: is a directory", path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise PvscanError(f"cannot read {what}: cannot read: {e.strerror or e}", path) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
        os.close(fd)
        why = ("not a regular file (a FIFO, device or socket)" if not stat.S_ISREG(st.st_mode)
               else f"file is {st.st_size} bytes, over the {limit}-byte limit")
        raise PvscanError(f"cannot read {what}: {why}", path)
    return os.fdopen(fd, "rb", buffering=1 << 20)


def read_input(path: str, what: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file named on the command line: a regular file (symlinks followed),
    read without waiting on a FIFO or a device and never past limit; else one clear error."""
    if os.path.isdir(path):
        raise PvscanError(f"cannot read {what}: is a directory", path)
    try:
        return read_regular(path, limit)
    except SkippedFile as e:
        raise PvscanError(f"cannot read {what}: {e}", path) from None


def readable(source: Source, rels: list[str], warnings: list) -> Iterator[tuple[str, bytes]]:
    """(rel, bytes) of each file the source can read as C; each one it cannot is a 'skipped' warning."""
    from pvscan.errors import Warning_

    for rel in rels:
        try:
            yield rel, source.read(rel)
        except SkippedFile as e:
            warnings.append(Warning_(rel, 0, f"skipped: {e}"))
