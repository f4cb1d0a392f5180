"""Writing results: whole or not at all, never into a tree pvscan reads, never onto a special file.

Every command checks its output paths with refuse_writes_into() before any
work, and writes with write_output(). A path is judged as the kernel will
resolve it (symlinks first, then '..'), so 'LINK/../out' with LINK pointing
into the tree is refused. Only '-' (or no -o) writes to standard output,
whatever that is; a device, FIFO, socket or directory named with -o is
refused, so that '-o /dev/null' as root cannot replace the real node. The
file is written beside its real target under a temporary name and renamed
over it, so a reader sees the old file or the whole new one.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pvscan.cache import Holder


def refuse_writes_into(trees: Sequence[Holder], *paths: str | None) -> None:
    """Before any work: each output path is one pvscan may write to."""
    for path in paths:
        if path is None or path == "-":
            continue
        if path == "" or "\0" in path:
            raise PvscanError("not a file name", repr(path))
        real = os.path.realpath(path)
        if any(tree.contains(real) or tree.contains(os.path.dirname(real)) for tree in trees):
            raise PvscanError("refusing to write into the kernel tree", _shown(path))
        try:
            st = os.stat(real)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise PvscanError(f"cannot write: {e.strerror}", _shown(path)) from None
        if stat.S_ISDIR(st.st_mode):
            raise PvscanError("is a directory; name a file to write", _shown(path))
        if not stat.S_ISREG(st.st_mode):
            raise PvscanError("is not a regular file (a device, FIFO or socket); "
                              "to write to standard output, leave out -o or give -o -", _shown(path))


def write_output(text: str, path: str | None) -> None:
    """The whole text to standard output (None or '-'), or atomically to the real target of path.

    Always UTF-8: a file name that is not (held as surrogate escapes) is written as the
    escape '\\udcff', which is also what JSON reads back as the same name.
    """
    data = text.encode("utf-8", "backslashreplace")
    if path is None or path == "-":
        if sys.stdout is None:       # started with standard output closed (>&-)
            raise PvscanError("cannot write: it is closed", "standard output")
        out = getattr(sys.stdout, "buffer", None)
        try:
            if out is None:
                sys.stdout.write(data.decode("utf-8"))
            else:
                sys.stdout.flush()
                out.write(data)
                out.flush()
        except BrokenPipeError:
            raise                    # the reader left: cli.main ends quietly, as 'head' expects
        except OSError as e:         # /dev/full (ENOSPC), a closed descriptor (EBADF) ...
            # What stayed in the buffer would fail again when the interpreter flushes at exit.
            sys.stdout = open(os.devnull, "w")
            raise PvscanError(f"cannot write: {e.strerror}", "standard output") from None
        return
    import tempfile  # only for a file: most runs write to standard output

    real = os.path.realpath(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pvscan-", dir=os.path.dirname(real))
    except OSError as e:
        raise PvscanError(f"cannot write: {e.strerror}", _shown(path)) from None
    try:
        # mkstemp makes the file 0600; an output file gets the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, real)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PvscanError(f"cannot write: {e.strerror}", _shown(path)) from None


def _shown(path: str) -> str:
    """A path fit for a one-line message: control characters escaped."""
    return path.encode("unicode_escape", "backslashreplace").decode("ascii") if not path.isprintable() else path
