"""A kernel tree as a git revision: files read from the object store, never checked out.

Runs only git itself (git rev-parse, diff, grep, cat-file) on the
repository; nothing from the repository is run.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import IO, TYPE_CHECKING

from pvscan.cache import Cache, Store, code_stamp, json_store, tree_path
from pvscan.errors import PvscanError
from pvscan.naming import CANDIDATE_RE, LOOSE_FIXED
from pvscan.run import Run
from pvscan.source.files import (
    MAX_FILE_BYTES,
    SOURCE_GIT_PATHSPEC,
    MissingFile,
    SkippedFile,
    is_searched,
    parse_version,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from subprocess import CompletedProcess

    from pvscan.errors import Warning_


# git maps pack windows and keeps a cache of delta bases as it reads: a 'git grep' of a whole
# 6.12 revision from a packed clone peaks at 430 MB that way. Bounded, it stays near 145 MB,
# 5-10 % slower. core.fsmonitor names a program in the repository's config, which git diff-tree
# runs in a repository with a work tree: never run it.
GIT = ["git", "-c", "core.packedGitLimit=32m", "-c", "core.packedGitWindowSize=4m",
       "-c", "core.deltaBaseCacheLimit=16m", "-c", "core.fsmonitor=false",
       # What a user's config could change in output pvscan parses: colour, quoted paths.
       "-c", "color.ui=never", "-c", "core.quotePath=false"]
# A git revision's Kconfig files are held in memory for kconfiglib: 6.12's 1,813 come to under 7 MB.
# Past this much together, a repository is not a kernel's, and nothing is read.
MAX_KCONFIG_BYTES = 64 * 1024 * 1024

# The paths a range's diff is limited to go on git's command line (10,000 paths of 6.12 come to
# about 500 KB); past this much, the whole diff is read instead.
_MAX_PATHSPEC_BYTES = 1024 * 1024

# For an index of pvscan's own (a temporary file): a repository's config must not make git
# write a split index's shared part into the repository.
_OWN_INDEX = ("core.splitIndex=false", "core.untrackedCache=false")

# Variables that name a repository over -C: git exports GIT_DIR and GIT_INDEX_FILE to its
# hooks, and pvscan run from a hook of another repository read that one instead.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                         "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE")


def git_environment(**extra) -> dict:
    """The environment of every git run: this one, without what names another repository."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    # No pager and no prompt: git never waits for a terminal; the system's config (which could
    # include a FIFO) is not read.
    env.update(GIT_PAGER="cat", PAGER="cat", GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


def run_git(repo: str, *args, config: tuple[str, ...] = (), data: bytes | None = None, index: str | None = None,
            seconds: int | None = None) -> CompletedProcess:
    """git args in repo (its CompletedProcess, output captured), the one way pvscan runs git on a
    repository it reads: GIT's settings, config ('name=value' each) on top, git_environment(),
    and index as GIT_INDEX_FILE when given; bounded in time and output (source.external)."""
    from pvscan.source.external import run_bounded

    settings = [arg for item in config for arg in ("-c", item)]
    env = git_environment(**({"GIT_INDEX_FILE": index} if index else {}))
    try:
        return run_bounded([*GIT, *settings, "-C", repo, *args], f"git {args[0]}", repo, input=data, env=env,
                           seconds=seconds)
    except FileNotFoundError:
        raise PvscanError("git is not on PATH, and reading a git repository needs it", repo) from None


# A commit's candidate list (the files a scan reads there), by the commit and the code that searches:
# a candidate list is what this version's search finds.
CANDIDATES: Store[str, list[str]] = json_store(
    "trees", code_stamp, lambda source: source, lambda source, found: {"source": source, "candidates": sorted(found)},
    lambda source, doc: (isinstance(doc, dict) and doc.get("source") == source
                         and isinstance(doc.get("candidates"), list) and all(tree_path(x) for x in doc["candidates"])),
    lambda doc: list(doc["candidates"]), "not a candidate list of that source")

# What the run has asked git already is kept on it (Run.git_places, git_commits, git_versions):
# history opens each revision three times (its candidates, its scan, its Kconfig), and each
# open was three git runs. Only what cannot change is kept: a commit named by its full id, and
# a commit's version. A name (HEAD, a branch) is asked each time; history pins its revisions to
# commits first.
_FULL_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def open_repo(run: Run, repo: str) -> list[str]:
    """The real paths of repo's git directory and work tree (none for a bare repository), from
    one 'git rev-parse' per run; a one-line error when repo is no repository's top."""
    if repo in run.git_places:
        return run.git_places[repo]
    if not os.path.isdir(repo):
        raise PvscanError("no such directory", repo)
    # --show-toplevel fails in a bare repository, after the lines before it are written.
    from pvscan.source.external import PROBE_TIMEOUT, timeout

    # The first git run on a repository: one that waits on its config (an include.path naming
    # a FIFO) is stopped here, soon, rather than at the long bound of the real work.
    proc = run_git(repo, "rev-parse", "--show-prefix", "--absolute-git-dir", "--show-toplevel",
                   seconds=timeout(PROBE_TIMEOUT))
    lines = proc.stdout.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 3 or not lines[1]:
        raise PvscanError("not a git repository", repo)
    if lines[0]:
        # git would search only below it and name files from there: no table would be found.
        raise PvscanError("a directory inside a git work tree: give the top of the repository", repo)
    run.git_places[repo] = [os.path.realpath(p) for p in lines[1:3] if p]
    return run.git_places[repo]


def resolve_commit(run: Run, repo: str, rev: str) -> str:
    """The commit a revision names, or a one-line error."""
    if (repo, rev) in run.git_commits:
        return run.git_commits[(repo, rev)]
    proc = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if proc.returncode != 0:
        raise PvscanError(f"unknown revision {rev!r}", repo)
    commit = proc.stdout.decode().strip()
    run.git_commits[(repo, commit)] = commit          # what a name gave is itself a full id
    if _FULL_ID.fullmatch(rev):
        run.git_commits[(repo, rev)] = commit
    return commit


def _cat_file_batch(repo: str, stdin: int | IO[bytes]) -> subprocess.Popen[bytes]:
    """'git cat-file --batch' in repo, with GIT's settings and git_environment(), reading the
    objects' names from stdin (a pipe or a file)."""
    try:
        return subprocess.Popen([*GIT, "-C", repo, "cat-file", "--batch"], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=git_environment())
    except FileNotFoundError:
        raise PvscanError("git is not on PATH, and reading a git repository needs it", repo) from None


def read_blob(repo: str, oid: str) -> bytes | None:
    """The blob oid (possibly abbreviated) of the repository, if it has it and it is not over the
    size limit; None otherwise."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", oid):
        return None
    size = run_git(repo, "cat-file", "-s", f"{oid}^{{blob}}")
    if size.returncode != 0 or not size.stdout.strip().isdigit() or int(size.stdout) > MAX_FILE_BYTES:
        return None
    proc = run_git(repo, "cat-file", "blob", f"{oid}^{{blob}}")
    return proc.stdout if proc.returncode == 0 else None


class Repository:
    """A git repository as a place on disk: its work tree (if any) and its git directory."""

    def __init__(self, repo: str, run: Run | None = None) -> None:
        self.places = open_repo(run or Run(), repo)

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """True if path lies in the repository: writing there would change it."""
        real = os.path.realpath(path)
        return any(real == place or real.startswith(place.rstrip("/") + "/") for place in self.places)


class GitTree:
    """The tree of one revision, read blob by blob."""

    def __init__(self, repo: str, rev: str, run: Run | None = None) -> None:
        self.run = run or Run()        # a tree opened without a run is a run of its own
        open_repo(self.run, repo)
        self.repo = repo
        self.a = self._commit(rev)
        self.display = f"{repo}@{self.a[:12]}"
        # A commit's content never changes: its candidate list can be cached.
        self.cache_key = f"git:{os.path.realpath(repo)}@{self.a}"
        self.commit = self.a
        self._cat: subprocess.Popen[bytes] | None = None
        self._candidates: list[str] | None = None
        self._repository: Repository | None = None
        self._kconfig_ids: dict[str, str] | None = None
        versions = self.run.git_versions
        if (repo, self.a) not in versions:
            try:
                versions[(repo, self.a)] = parse_version(self._blob("Makefile"), f"{repo}:{rev}:Makefile")
            except SkippedFile:
                raise PvscanError(f"not a Linux kernel tree at {rev}: no top-level Makefile", repo) from None
        self.version = versions[(repo, self.a)]

    def close(self) -> None:
        if self._cat is not None:
            if self._cat.stdin is not None:
                self._cat.stdin.close()
            self._cat.wait()
            self._cat = None

    def _git(self, *args, check: bool = True, data: bytes | None = None, config: tuple[str, ...] = (),
             index: str | None = None):
        proc = run_git(self.repo, *args, config=config, data=data, index=index)
        if check and proc.returncode != 0:
            raise PvscanError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}", self.repo)
        return proc

    def _commit(self, rev: str) -> str:
        return resolve_commit(self.run, self.repo, rev)

    def candidates(self, warnings: list[Warning_]) -> list[str]:
        """The text search's files at this commit; a commit never changes, so they are cached."""
        if self._candidates is None:
            cache = Cache.for_source(self)
            self._candidates = cache.get(CANDIDATES, self.cache_key)
            if self._candidates is None:
                self._candidates = self._search()
                cache.put(CANDIDATES, self.cache_key, self._candidates)
            cache.tell()
        return self._candidates

    def _search(self) -> list[str]:
        return self._grep(where=(self.a, "--", *SOURCE_GIT_PATHSPEC))

    def _grep(self, where: Iterable[str] = (), cached: bool = False, index: str | None = None,
              config: tuple[str, ...] = ()) -> list[str]:
        """The candidates among the files 'git grep -F' of LOOSE_FIXED lists: in where (this
        commit and pathspecs), or (cached) in the blobs of index."""
        fixed = [arg for text in LOOSE_FIXED for arg in ("-e", text)]
        # -z: without it git quotes a name that is not plain ASCII ("p\303\244r.c"), which then
        # names no file. --text: a .gitattributes that marks headers binary must not hide them
        # (only C, header and assembly names are kept below, so no real binary is read).
        proc = self._git("grep", *(["--cached"] if cached else []), "-l", "-z", "-F", "--text", *fixed, *where,
                         check=False, index=index, config=config)
        if proc.returncode not in (0, 1):
            raise PvscanError(f"git grep failed: {proc.stderr.decode(errors='replace').strip()}", self.repo)
        # git grep goes on past an object it cannot read and still exits 0: the revision would
        # lose the file's ops without a word. A repository missing objects is an error.
        unreadable = re.search(rb"unable to read ([0-9a-f]{40,64})", proc.stderr)
        if unreadable:
            raise PvscanError(f"revision {self.a[:12]}: git cannot read object {unreadable[1].decode()} (the "
                              "repository is corrupt or incomplete: git fsck says more)", self.repo)
        prefix = f"{self.a}:"
        names = [n[len(prefix):] if n.startswith(prefix) else n
                 for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0")]
        return sorted(rel for rel in names if rel and self._is_candidate(rel))

    def _is_candidate(self, rel: str) -> bool:
        """Whether the file names a table or a PVOP_* macro; not when it cannot be read as C."""
        try:
            return CANDIDATE_RE.search(self.read(rel)) is not None
        except SkippedFile:
            return False

    def use_candidates(self, candidates: Iterable[str]) -> None:
        """This revision's candidate list, known already (pvscan.history primes it)."""
        self._candidates = sorted(candidates)

    def changed_sources(self, other_commit: str) -> list[tuple[str, str, str, str]] | None:
        """(status, path, mode, blob id at this revision) of the files the searches read
        (files.is_searched) that differ from other_commit to this revision (git diff-tree,
        renames as a deletion and an addition)."""
        proc = self._git("diff-tree", "-r", "-z", "--no-renames", other_commit, self.a, check=False)
        if proc.returncode != 0:
            return None
        fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
        out = []
        for meta, path in zip(fields[0::2], fields[1::2]):
            # ':100644 100644 <old id> <new id> M'
            parts = meta.lstrip(":").split(" ")
            if len(parts) != 5:
                return None
            if is_searched(path):
                out.append((parts[4][:1], path, parts[1], parts[3]))
        return out

    def candidates_since(self, earlier: str, earlier_candidates: list[str], changed=None) -> list[str] | None:
        """This revision's candidates, known from an earlier commit's: the cached list, else the
        earlier list with the files changed since (changed_sources, or changed when the caller
        has asked already) searched again by candidates_after, then cached by commit; None
        when git cannot say what changed."""
        if self._candidates is None:
            cache = Cache.for_source(self)
            found = cache.get(CANDIDATES, self.cache_key)
            if found is None:
                changed = self.changed_sources(earlier) if changed is None else changed
                if changed is None:
                    return None
                found = self.candidates_after(changed, earlier_candidates)
                cache.put(CANDIDATES, self.cache_key, found)
            cache.tell()
            self._candidates = found
        return self._candidates

    def candidates_after(self, changed, previous: list[str]) -> list[str]:
        """This revision's candidates from an earlier revision's list and the files that changed
        since (changed_sources): a file that did not change keeps its answer; the changed ones
        are searched again, by one 'git grep --cached' over an index of just their blobs."""
        keep = set(previous) - {path for _status, path, _mode, _oid in changed}
        present = [(mode, oid, path) for status, path, mode, oid in changed
                   if status != "D" and mode in ("100644", "100755", "120000")]
        keep.update(self._grep_blobs(present))
        return sorted(keep)

    def _grep_blobs(self, entries) -> list[str]:
        """The candidates among those (mode, blob id, path).

        git grep searches a tree or an index: the index here is a temporary file listing only
        these blobs (GIT_INDEX_FILE; git update-index --index-info writes no object), so the
        step from 6.1 to 6.12 reads its 37,366 changed blobs in 2.4-2.7 s, where a search of
        the whole revision takes 3.5-3.7 s and reading them one by one longer still. Nothing
        is written into the repository."""
        if not entries:
            return []
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pvscan-index-") as tmp:
            index = os.path.join(tmp, "index")
            listing = "".join(f"{mode} {oid}\t{path}\0" for mode, oid, path in entries)
            self._git("update-index", "-z", "--index-info", data=listing.encode("utf-8", "surrogateescape"),
                      index=index, config=_OWN_INDEX)
            return self._grep(cached=True, index=index, config=_OWN_INDEX)

    def read(self, rel: str) -> bytes:
        if rel.startswith("/") or ".." in rel.split("/"):
            raise SkippedFile("path escapes the tree")
        data = self._blob(rel)
        if b"\0" in data:
            raise SkippedFile("binary file (NUL bytes)")
        return data

    def _blob(self, rel: str) -> bytes:
        if self._cat is None:
            self._cat = _cat_file_batch(self.repo, subprocess.PIPE)
        stdin, stdout = self._cat.stdin, self._cat.stdout
        assert stdin is not None and stdout is not None    # both are pipes
        stdin.write(f"{self.a}:{rel}\n".encode())
        stdin.flush()
        header = stdout.readline().decode().split()
        if len(header) != 3 or header[1] != "blob":
            raise MissingFile("not in the revision")
        size = int(header[2])
        if size > MAX_FILE_BYTES:
            # Skip it without holding it: a blob can be as big as the repository allows.
            left = size + 1          # the blob and its trailing newline
            while left > 0:
                chunk = stdout.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
            raise SkippedFile(f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
        data = stdout.read(size)
        stdout.read(1)
        return data

    def kconfig_blob_ids(self) -> dict[str, str]:
        """{rel: blob id} of the revision's top Makefile and its Kconfig files (Kconfig,
        Kconfig.debug, scripts/Kconfig.include ...), from one ls-tree: all that kconfiglib
        reads of a revision, so equal ids read equal."""
        if self._kconfig_ids is None:
            listing = self._git("ls-tree", "-r", "-z", self.a).stdout.decode("utf-8", "surrogateescape")
            blobs = {}
            for row in listing.split("\0"):
                head, _, rel = row.partition("\t")
                fields = head.split(" ")
                if len(fields) != 3 or fields[1] != "blob" or rel.startswith("/") or ".." in rel.split("/"):
                    continue
                if rel == "Makefile" or rel.rsplit("/", 1)[-1].startswith("Kconfig"):
                    blobs[rel] = fields[2]
            self._kconfig_ids = dict(sorted(blobs.items()))
        return self._kconfig_ids

    def kconfig_blobs(self):
        """(rel, bytes) of each of kconfig_blob_ids() that read() would return, one at a time, so
        that no more than one is held. The blobs are named by their ids: 'git cat-file' finds
        1,800 of them that way in 0.05 s, where naming each by its path costs 0.2 s, and one
        round trip a file 0.5 s. SkippedFile when together they pass MAX_KCONFIG_BYTES."""
        import tempfile

        blobs = self.kconfig_blob_ids()
        ids = "".join(f"{oid}\n" for oid in blobs.values()).encode()
        sizes = self._git("cat-file", "--batch-check=%(objectsize)", data=ids).stdout.split(b"\n")
        wanted = {rel: (oid, int(size)) for (rel, oid), size in zip(blobs.items(), sizes)
                  if size.isdigit() and int(size) <= MAX_FILE_BYTES}
        total = sum(size for _oid, size in wanted.values())
        if total > MAX_KCONFIG_BYTES:
            raise SkippedFile(f"its Kconfig files come to {total} bytes, over the {MAX_KCONFIG_BYTES}-byte limit")
        with tempfile.TemporaryFile() as names:
            # From a file: the names of 1,800 blobs pass a pipe's buffer, and git would wait
            # for its answers to be read while pvscan waited for it to read the names.
            names.write("".join(f"{oid}\n" for oid, _size in wanted.values()).encode())
            names.seek(0)
            proc = _cat_file_batch(self.repo, names)
            try:
                for rel in wanted:
                    header = proc.stdout.readline().split()
                    if len(header) != 3 or header[1] != b"blob":
                        raise PvscanError(f"git cat-file gave no blob for {rel}", self.repo)
                    data = proc.stdout.read(int(header[2]))
                    proc.stdout.read(1)             # the blob's trailing newline
                    if b"\0" not in data:
                        yield rel, data
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.stdout.close()
                proc.wait()

    def walk_sources(self, only_dirs: Iterable[str] | None = None) -> list[str]:
        """Relative paths of the revision's .c/.h blobs (in only_dirs when given), sorted, as
        KernelTree.walk_sources lists a directory's: no symlink, no submodule, only what the
        searches read (files.is_searched)."""
        where = [f":(literal){d.strip('/')}" for d in only_dirs] if only_dirs else []
        listing = self._git("ls-tree", "-r", "-z", self.a, "--", *where).stdout.decode("utf-8", "surrogateescape")
        out = []
        for row in listing.split("\0"):
            head, _, rel = row.partition("\t")
            fields = head.split(" ")
            if (len(fields) != 3 or fields[0] not in ("100644", "100755") or not is_searched(rel)
                    or rel.startswith("/") or ".." in rel.split("/")):
                continue
            out.append(rel)
        return sorted(out)

    def arch_subdirs(self) -> dict[str, frozenset[str]]:
        """{arch: the directories right under arch/<arch>/}, from two 'git ls-tree' runs."""
        def trees(*where):
            listing = self._git("ls-tree", "-d", "-z", self.a, "--", *where, check=False).stdout
            return [row.partition(b"\t")[2].decode("utf-8", "surrogateescape")
                    for row in listing.split(b"\0") if b" tree " in row.partition(b"\t")[0]]
        arches = [rel.split("/")[1] for rel in trees(":(literal)arch/") if rel.count("/") == 1]
        out: dict = {arch: set() for arch in arches}
        if arches:
            for rel in trees(*(f":(literal)arch/{a}/" for a in arches)):
                parts = rel.split("/")
                if len(parts) == 3 and parts[1] in out:
                    out[parts[1]].add(parts[2])
        return {arch: frozenset(subs) for arch, subs in sorted(out.items())}

    def is_dir(self, rel: str) -> bool:
        """Whether the revision holds a directory at rel."""
        return self._entry_type(rel.rstrip("/")) == b"tree"

    def has_file(self, rel: str) -> bool:
        """Whether the revision holds a file at rel."""
        return self._entry_type(rel) == b"blob"

    def _entry_type(self, rel: str) -> bytes | None:
        """What the revision holds at rel (b"blob", b"tree" ...), from one 'git ls-tree' of that
        path, where kconfig_blobs() lists the 80,000 paths of a whole revision; None for nothing
        or a path that leads out of the tree."""
        if rel.startswith("/") or ".." in rel.split("/"):
            return None
        proc = self._git("ls-tree", "-z", self.a, "--", f":(literal){rel}", check=False)
        head, _, path = proc.stdout.rstrip(b"\0").partition(b"\t")
        fields = head.split(b" ")
        return fields[1] if proc.returncode == 0 and path == os.fsencode(rel) and len(fields) == 3 else None

    def contains(self, path: str | os.PathLike[str]) -> bool:
        if self._repository is None:
            self._repository = Repository(self.repo, self.run)
        return self._repository.contains(path)

    def blob(self, oid: str) -> bytes | None:
        return read_blob(self.repo, oid)


class GitRange(GitTree):
    """'A..B' of a repository: the tree at A, and the diff from A to B."""

    def __init__(self, repo: str, spec: str, run: Run | None = None) -> None:
        run = run or Run()
        open_repo(run, repo)
        if ".." not in spec or spec.count("..") != 1 or "..." in spec:
            raise PvscanError(f"expected a range A..B, got {spec!r}", repo)
        a, b = spec.split("..")
        super().__init__(repo, a or "HEAD", run)
        self.b = self._commit(b or "HEAD")

    def diff(self) -> bytes:
        """The patch from A to B as git writes it for a mail, whatever the user's config says of
        prefixes (diff.noprefix), paths (diff.relative), text conversion or blank context
        lines (diff.suppressBlankEmpty): each of those made a patch that applied nowhere.

        Only of the files that are candidates at A or at B (candidates_at_either_end), when
        git can say which: a review reads nothing else. The whole 6.1..6.12 range is 457 MB
        of diff over 57,375 files, which took 90 s and 3.4 GB to parse and apply."""
        where = self._pathspec()
        if where is None:
            return b""
        # --text: a .gitattributes that marks headers binary must not turn their diff into
        # 'Binary files differ'; --end-of-options: a revision is never read as an option.
        return self._git("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-relative", "--text",
                         "--src-prefix=a/", "--dst-prefix=b/", "-M", "--end-of-options", self.a, self.b, *where,
                         config=("diff.suppressBlankEmpty=false",)).stdout

    def commits(self) -> bytes:
        """The range's commits as 'git format-patch --stdout' writes them, one mail each, oldest
        first, with diff()'s settings and paths: a series to review commit by commit. Merges
        are left out, as format-patch leaves them; a commit that changes none of the paths too."""
        where = self._pathspec()
        if where is None:
            return b""
        return self._git("format-patch", "--stdout", "--no-color", "--no-ext-diff", "--no-textconv", "--no-relative",
                         "--text", "--src-prefix=a/", "--dst-prefix=b/", "-M", "--no-signature", "--no-cover-letter",
                         "--no-numbered", "--end-of-options", f"{self.a}..{self.b}", *where,
                         config=("diff.suppressBlankEmpty=false", "format.headers=", "format.to=", "format.cc=",
                                 "format.forceInBodyFrom=false", "format.signatureFile=")).stdout

    def _pathspec(self) -> list[str] | None:
        """The paths diff() and commits() limit git to: '--' and the candidate files at either
        end; [] for every file (git cannot say which); None when no file is a candidate."""
        paths = self.candidates_at_either_end()
        if paths is not None and not paths:
            return None
        return ["--", *(f":(literal){p}" for p in paths)] if paths else []

    def candidates_at_either_end(self) -> list[str] | None:
        """The files that are candidates at A or at B: what a review of the range can read.
        A file that names no table, PVOP_* macro or callee-save type at either end is in
        neither inventory, and its lines anchor no finding. B's list comes from A's and the
        files that changed (git diff-tree, then a search of only those, as history steps from
        one revision to the next), and is cached by commit. None (the whole diff) when git
        cannot say what changed, or when the paths would not fit on a command line."""
        at_a = self.candidates([])
        end = GitTree(self.repo, self.b, self.run)
        try:
            at_b = end.candidates_since(self.a, at_a)
        finally:
            end.close()
        if at_b is None:
            return None
        paths = sorted(set(at_a) | set(at_b))
        if sum(len(p) + 12 for p in paths) > _MAX_PATHSPEC_BYTES:
            return None
        return paths
