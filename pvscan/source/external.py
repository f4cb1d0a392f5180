"""Running git and ripgrep with a bound on time and on output.

Both are the world's programs on the world's data: a git config that includes a FIFO, a
hung network filesystem or a 20 GB file must not make pvscan hang, and a revision's diff must
not fill the memory. run_bounded() runs one to its end, or stops it and says which bound it
passed, in one line (PvscanError, exit 2).
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError

if TYPE_CHECKING:
    from typing import IO

# Seconds a call may take. The slowest real call is a search or diff of a whole kernel
# revision (git grep of 6.12 3.5 s, the 6.1 -> 6.12 diff of every file 90 s); a call still
# running after ten minutes is not going to end. PVSCAN_EXTERNAL_TIMEOUT overrides it.
TIMEOUT = 600
# A first look at a repository (rev-parse) reads only its config: what does not answer within
# this is waiting on something that will not come (an include.path naming a FIFO).
PROBE_TIMEOUT = 20
# Bytes a call may write: the whole diff of 6.1 -> 6.12 is 457 MB.
OUTPUT_LIMIT = 2 * 1024 * 1024 * 1024
_ERROR_LIMIT = 1024 * 1024


def timeout(default: int = TIMEOUT) -> int:
    value = os.environ.get("PVSCAN_EXTERNAL_TIMEOUT", "")
    return int(value) if value.isdigit() and 0 < int(value) < 1 << 20 else default


def run_bounded(args: list[str], what: str, where: str | None = None, *, input: bytes | None = None,
                cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None,
                seconds: int | None = None, limit: int = OUTPUT_LIMIT) -> subprocess.CompletedProcess:
    """args run to their end, output captured, as subprocess.run(capture_output=True) gives it;
    a PvscanError naming what (and where) when it runs past seconds or writes past limit.
    FileNotFoundError when the program is not there, as subprocess.run raises it."""
    seconds = timeout() if seconds is None else seconds
    proc = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    out, err = bytearray(), bytearray()
    too_much = threading.Event()
    threads = [threading.Thread(target=_pump, args=(proc, proc.stdout, out, limit, too_much), daemon=True),
               threading.Thread(target=_pump, args=(proc, proc.stderr, err, _ERROR_LIMIT, None), daemon=True)]
    if input is not None:
        threads.append(threading.Thread(target=_feed, args=(proc, input), daemon=True))
    for t in threads:
        t.start()
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise PvscanError(f"{what} did not finish within {seconds} s (PVSCAN_EXTERNAL_TIMEOUT sets the bound)",
                          where) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for t in threads:
            t.join(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    if too_much.is_set():
        raise PvscanError(f"{what} wrote more than {limit} bytes", where)
    return subprocess.CompletedProcess(args, proc.returncode, bytes(out), bytes(err))


def _pump(proc: subprocess.Popen[bytes], stream: IO[bytes], into: bytearray, cap: int,
          too_much: threading.Event | None) -> None:
    """Read stream into into, up to cap bytes: past it, stop the process and set too_much, or
    (too_much None, for stderr) read on and drop the rest."""
    try:
        while True:
            chunk = stream.read(1 << 16)
            if not chunk:
                return
            if len(into) + len(chunk) > cap:
                if too_much is not None:
                    too_much.set()
                    proc.kill()
                    return
                continue            # past the limit of what is kept of stderr: read on, drop it
            into += chunk
    except (OSError, ValueError):
        return


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write data to the process's stdin and close it; a process that stops reading ends it."""
    stdin = proc.stdin
    assert stdin is not None          # started with stdin=PIPE
    try:
        stdin.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        try:
            stdin.close()
        except OSError:
            pass
