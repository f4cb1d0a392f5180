"""The tree's Kconfig, read with kconfiglib: which options imply which, to compare guards.

'#if defined(CONFIG_PARAVIRT) && defined(CONFIG_PARAVIRT_XXL)' and
'#ifdef CONFIG_PARAVIRT_XXL' differ as text, but PARAVIRT_XXL can only be
set by XEN_PV, which depends on XEN and so on PARAVIRT: under the kernel's
Kconfig the two guards hold in the same configurations. GuardLogic says so.

What is read: the Kconfig files of the tree, through KernelTree.read (bounded,
never out of the tree). What is never done: running anything. The kernel's
Kconfig asks the compiler through '$(shell,...)' (cc-option, as-instr ...);
here every '$(shell,...)' expands to 'n', as for a compiler that has nothing,
which only decides toolchain options that no pv_ops guard tests.

kconfiglib 14.1 (unmaintained since 2020) predates some syntax that newer
kernels use ('modules' as a bare option since 5.13, 'transitional' and
'depends on X if Y', read as 'depends on X || !Y', in 7.2) and rejects some that older ones tolerated (a ';' after a prompt in
2.6.32, 'depends X' without 'on' in 2.6.22): each file is adjusted for those
as it is read ('transitional' only marks a symbol as an old name that a
.config migrates from, which no dependency sees, so its line is dropped).
Beyond those, a line kconfiglib cannot parse is skipped and the Kconfig read
again, up to MAX_SKIPPED lines, each said as a note naming its file and line;
a dependency loop, which the kernel's own kconfig only warns about (2.6.22:
'SMP depends on X86_LOCAL_APIC ...', arch/i386/Kconfig:96), is a note too,
where kconfiglib would stop. So a keyword no version of pvscan knows yet
costs a note, and the rest of the Kconfig is still read.
A tree whose Kconfig still cannot be read gets one warning, and its guards
are compared as text, as before.
"""

from __future__ import annotations

import io
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvscan.cache import Store, format_stamp, json_store, tree_path
from pvscan.facts.guards import as_config, config_options, configurations, evaluate
from pvscan.source.files import MissingFile, SkippedFile

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pvscan.source import Source
    from pvscan.source.directory import KernelTree

# A kconfiglib expression: a Symbol, or a tuple (AND, a, b), (NOT, a) ... (kconfiglib has no types).
KconfigExpr = Any


_BARE_MODULES = re.compile(r"^(\s*)modules\s*$", re.M)
_DEPENDS_WITHOUT_ON = re.compile(r"^(\s*)depends(\s+)(?!on\b)", re.M)
_TRANSITIONAL = re.compile(r"^[ \t]*transitional[ \t]*$", re.M)
# 'depends on USB if !USB_GADGET' (7.x): the dependency holds only under the condition.
_CONDITIONAL_DEPENDS = re.compile(r"^([ \t]*depends[ \t]+on[ \t]+)([^\n#]*?)[ \t]+if[ \t]+([^\n#]*?)[ \t]*$", re.M)
# kconfiglib's parse errors: 'arch/Kconfig:955: error: couldn't parse 'transitional': syntax error'.
_PARSE_ERROR = re.compile(r"^(?P<file>[^\n]*?):(?P<line>[0-9]{1,9}): error: couldn't parse '(?P<text>[^\n]*)'", re.M)
MAX_SKIPPED = 32      # lines of one Kconfig skipped before it counts as unreadable
_PROMPT_SEMICOLON = re.compile(r'^(\s*(?:bool|tristate|prompt|string|int|hex)\s+"[^"\n]*")\s*;\s*$', re.M)
# What the cached Kconfig entries depend on: this module's reading of Kconfig, and kconfiglib's.
_KCONFIG_VERSION = "pvscan-kconfig/9"
MAX_SYMBOLS = 12      # guards comparing more options than this are compared as text
# Kconfig options without CONFIG_ (104_QUAD_8 too), joined by newlines.
_OPTIONS = re.compile(r"(?:[A-Za-z0-9_]+(?:\n[A-Za-z0-9_]+)*)?")


def _option_map(value: object) -> bool:
    """{option: [options]}: 18,000 options for 6.12's x86 Kconfig, checked in one pass of a
    regular expression over the names joined by newlines (none may hold one)."""
    if not isinstance(value, dict):
        return False
    names = list(value)
    for v in value.values():
        if type(v) is not list:
            return False
        names += v
    return (all(type(n) is str and n and "\n" not in n for n in names)
            and _OPTIONS.fullmatch("\n".join(names)) is not None)


def _kconfig_entry(key: str, doc: object) -> bool:
    files = doc.get("files") if isinstance(doc, dict) else None
    defaults = doc.get("defaults") if isinstance(doc, dict) else None
    return (isinstance(doc, dict) and doc.get("kconfig") == key
            and all(_option_map(doc.get(k)) for k in ("needs", "excludes"))
            and isinstance(files, dict) and all(
                tree_path(f) and isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h)
                for f, h in files.items())
            and isinstance(defaults, dict) and all(
                isinstance(k, str) and isinstance(rows, list) and all(
                    isinstance(r, list) and len(r) == 2 and type(r[0]) is int and isinstance(r[1], str)
                    for r in rows)
                for k, rows in defaults.items())
            and isinstance(doc.get("notes", []), list) and all(isinstance(n, str) for n in doc.get("notes", []))
            and _option_map(doc.get("selects", {})))


def _kconfig_doc(key: str, value: tuple[Any, ...]) -> dict[str, Any]:
    needs, excludes, files, defaults, notes, selects = value
    return {"kconfig": key, "needs": {k: sorted(v) for k, v in sorted(needs.items())},
            "excludes": {k: sorted(v) for k, v in sorted(excludes.items())},
            "files": dict(sorted(files.items())),
            "defaults": {k: [list(row) for row in v] for k, v in sorted(defaults.items())},
            "notes": list(notes), "selects": {k: sorted(v) for k, v in sorted((selects or {}).items())}}


# What a tree's Kconfig says options need: ({option: [options it needs]}, {option: [options it
# excludes]}, {file: sha256 of what was read}, {int option: [[value, guard], ...]}, notes,
# {option: [options it selects]}).
KCONFIG: Store[str, tuple] = json_store(
    "kconfig", format_stamp, lambda key: key, _kconfig_doc, _kconfig_entry,
    lambda doc: (doc["needs"], doc["excludes"], doc["files"], doc["defaults"], tuple(doc.get("notes", ())),
                 doc.get("selects", {})), "not the options of that Kconfig")

_lock = threading.Lock()


class GuardLogic:
    """Which options a set option needs, from one tree's Kconfig (or none: text comparison)."""

    def __init__(self, needs: dict | None = None, problem: str | None = None, excludes: dict | None = None,
                 files: dict | None = None, defaults: dict | None = None, notes: tuple = (),
                 selects: dict | None = None, read: tuple[str, ...] | None = None) -> None:
        self.needs = needs or {}      # symbol -> frozenset of symbols that must be set with it
        self.excludes = excludes or {}   # symbol -> frozenset of symbols that must be unset with it
        self.problem = problem        # why the Kconfig could not be read
        self.notes = tuple(notes)     # what was read around: lines skipped, dependency loops
        self.selects = selects or {}  # symbol -> frozenset of symbols it selects unconditionally
        self.files = files            # rel -> sha256 of each file read; None: not to be cached
        # every file kconfiglib opened, cached or not (one sourced by a glob too)
        self.read = read if read is not None else tuple(sorted(files or ()))
        # int option without a prompt -> ((value, the guard it is the value under), ...) in order:
        # 'config PGTABLE_LEVELS int default 5 if X86_5LEVEL default 4 if X86_64 ...'
        self.defaults = defaults or {}

    def complete(self, config: dict, wanted: list[Any | str]) -> dict:
        """{CONFIG_X: False} for each wanted option that config (CONFIG_X -> bool) rules out:
        one that needs an option the config unsets, or one that needs (or is) an option that
        excludes one the config sets. X86_64 sets 64BIT, which X86_32 excludes; X86_PAE needs
        X86_32: so X86_PAE is off on x86_64. ('needs' is already transitive.) And {CONFIG_X:
        True} for each wanted option that an option the config sets selects unconditionally:
        7.2's x86 PARAVIRT selects HAVE_PV_STEAL_CLOCK_GEN."""
        known = {k[len("CONFIG_"):]: bool(v) for k, v in config.items() if k.startswith("CONFIG_")}
        on = {n for n, v in known.items() if v}
        for name in list(on):
            on |= self.needs.get(name, frozenset())
        todo = list(on)
        while todo:
            for selected in self.selects.get(todo.pop(), frozenset()):
                if selected not in on and known.get(selected, True):
                    on.add(selected)
                    todo.append(selected)
                    todo.extend(self.needs.get(selected, frozenset()) - on)
                    on |= self.needs.get(selected, frozenset())
        off = {n for n, v in known.items() if not v}
        for name in on:
            off |= self.excludes.get(name, frozenset())
        out = {}
        for name in sorted(set(wanted)):
            if name in known or f"CONFIG_{name}" in config:
                continue
            required = self.needs.get(name, frozenset()) | {name}
            if name in on:
                out[f"CONFIG_{name}"] = True
            elif required & off or any(self.excludes.get(r, frozenset()) & on for r in required):
                out[f"CONFIG_{name}"] = False
        return out

    def values(self, config: dict, wanted: list[str]) -> dict:
        """{CONFIG_X: value} for each wanted int option without a prompt that config leaves unset,
        from its defaults under config (and what complete() rules out): the first default whose
        guard holds gives it; those before it whose guards are unknown may give it instead, and
        the value is then the set of them all. Nothing for an option no default surely gives
        (it may then be unset). X86_64 and no word of X86_5LEVEL: PGTABLE_LEVELS is 4 or 5."""
        asked = sorted(n for n in set(wanted) & set(self.defaults) if f"CONFIG_{n}" not in config)
        known = {**config, **self.complete(config, config_options(*(g for n in asked for _v, g in self.defaults[n])))}
        for name, value in list(known.items()):
            if value is True and name.startswith("CONFIG_"):
                for needed in self.needs.get(name[len("CONFIG_"):], ()):
                    known.setdefault(f"CONFIG_{needed}", True)
        out = {}
        for name in asked:
            possible = []
            for value, guard in self.defaults[name]:
                holds, _ = evaluate(guard, known)
                if holds is not False:
                    possible.append(value)
                if holds is True:
                    break
            else:
                continue
            out[f"CONFIG_{name}"] = possible[0] if len(set(possible)) == 1 else frozenset(possible)
        return out

    def equivalent(self, a: str | None, b: str | None) -> bool:
        """Whether guards a and b hold in the same configurations the Kconfig allows."""
        if a == b:
            return True
        if not self.needs:
            return False
        return equal_where(a, b, lambda chosen: not any(
            chosen[n] and not all(chosen.get(m, True) for m in self.needs.get(n, ())) for n in chosen))


def equal_where(a: str | None, b: str | None, allowed: Callable = lambda chosen: True) -> bool:
    """Whether guards a and b hold alike in every configuration of the options they name that
    allowed() accepts (all of them by default: then they are equal whatever a Kconfig says)."""
    names = config_options(a, b)
    if not names or len(names) > MAX_SYMBOLS:
        return False
    for chosen in configurations(names):
        if not allowed(chosen):
            continue
        va, _ = evaluate(a, as_config(chosen))
        vb, _ = evaluate(b, as_config(chosen))
        if va is None or vb is None or va != vb:
            return False
    return True


class LazyGuardLogic:
    """GuardLogic for each architecture of one tree, read only when two guards differ as text:
    most patches change no guard, and reading a Kconfig takes seconds."""

    def __init__(self, tree: Source) -> None:
        self.tree = tree
        self.logic: dict = {}        # SRCARCH -> GuardLogic
        self.problems: list = []     # one line each, for the user
        # what kconfiglib reads: the tree itself, or a git revision's KconfigBlobs
        self._files: KernelTree | KconfigBlobs | None = None
        self._names: dict[str, bool] = {}       # path -> whether a git revision has that file
        # Answers by question: a history's 80 ops that change guard ask a few questions each
        # many times (every op of a table is built when its one .c file is).
        self._equivalent: dict = {}  # (a, b, arch, within) -> (bool, whether the Kconfig answered it)
        self._built_when: dict = {}  # .c path -> condition
        self._makefiles: set = set()  # the Makefiles and Kbuild files _kbuild_entry read
        # Answers that came from the tree's Kconfig or Makefiles, memoized ones too: a review
        # warns of a patch that changes one of those files, having judged by them as they were.
        self.consulted = 0

    def close(self) -> None:
        """Drop what was read for kconfiglib (a git revision's Kconfig files, about 7 MB)."""
        if self._files is not self.tree:
            self._files = None

    def _kconfig_files(self) -> KernelTree | KconfigBlobs | None:
        """What kconfiglib reads: the tree itself on disk, or for a git revision
        (pvscan.source.git.GitTree) its Kconfig* files and top Makefile, held in memory."""
        from pvscan.source.directory import KernelTree

        if self._files is None:
            if isinstance(self.tree, KernelTree):
                self._files = self.tree
            elif hasattr(self.tree, "kconfig_blobs"):
                self._files = KconfigBlobs(dict(self.tree.kconfig_blobs()))
        return self._files

    def equivalent(self, a: str | None, b: str | None, arch: str = "x86", within: str | None = None) -> bool:
        """Whether guards a and b hold in the same configurations, among those where within
        holds (the condition under which the op's table is built at all)."""
        if a == b:
            return True
        question = (a, b, arch, within)
        if question not in self._equivalent:
            self._equivalent[question] = self._answer(a, b, arch, within)
        answer, from_kconfig = self._equivalent[question]
        self.consulted += from_kconfig
        return answer

    def _answer(self, a: str | None, b: str | None, arch: str, within: str | None) -> tuple[bool, bool]:
        if within:
            a, b = _conjoin(a, within), _conjoin(b, within)
        if equal_where(a, b):
            return True, False      # equal in every configuration: no Kconfig to read (it takes seconds)
        logic = self._logic(arch)
        if logic is None:
            return False, False
        return logic.equivalent(a, b), True

    def for_arch(self, arch: str) -> GuardLogic | None:
        """The architecture's GuardLogic, read at the first question; None without a Kconfig to read."""
        logic = self._logic(arch)
        self.consulted += logic is not None
        return logic

    def patched(self, arch: str, changes: dict[str, bytes]) -> tuple[GuardLogic, GuardLogic] | None:
        """The architecture's GuardLogic as the tree has it and with Kconfig files as a patch
        leaves them: the files the tree's own read opened, each changed one replaced. None when
        that read is not known (no Kconfig) or a file of it cannot be read. Not a judgement by the
        Kconfig as it was (consulted stays)."""
        before = self._logic(arch)
        files = self._kconfig_files()
        if before is None or not before.read or files is None:
            return None
        srcarch = self._srcarch(arch)
        blobs: dict[str, bytes] = {}
        for rel in before.read:
            try:
                blobs[rel] = changes[rel] if rel in changes else files.read(rel)
            except (SkippedFile, MissingFile, OSError):
                return None
        return before, load(KconfigBlobs(blobs), srcarch)

    def logic_of(self, arch: str) -> GuardLogic | None:
        """The architecture's GuardLogic as the tree has it, for a comparison with a patched one
        (not a judgement by the Kconfig as it was: consulted stays)."""
        return self._logic(arch)

    def files_read(self) -> tuple[set, bool]:
        """(the Kconfig, Makefile and Kbuild files read so far, whether some Kconfig was read
        whose files are not known: one sourced by a glob, then every Kconfig* may count)."""
        read = set(self._makefiles)
        unknown = False
        for logic in self.logic.values():
            if logic.files is not None:
                read |= set(logic.files)
            elif logic.needs:
                unknown = True
        return read, unknown

    def _logic(self, arch: str) -> GuardLogic | None:
        if self.tree is None or not (hasattr(self.tree, "root") or hasattr(self.tree, "kconfig_blobs")):
            return None
        if arch == "generic":
            return None      # no Kconfig of its own: an architecture's decides
        srcarch = self._srcarch(arch)
        if srcarch not in self.logic:
            self.logic[srcarch] = self._cached(srcarch)
            if self.logic[srcarch].problem:
                self.problems.append(f"{getattr(self.tree, 'display', '')}: {self.logic[srcarch].problem}")
            for note in self.logic[srcarch].notes:
                self.problems.append(f"{getattr(self.tree, 'display', '')}: Kconfig: {note}")
        return self.logic[srcarch]

    def _srcarch(self, arch: str) -> str:
        """The SRCARCH whose Kconfig an architecture's ops are built by: x86's for i386 and
        x86_64, i386's for x86 in a tree older than arch/x86 (made in 2.6.24)."""
        if arch in ("i386", "x86_64") and self._has("arch/x86/Kconfig"):
            return "x86"
        if arch == "x86" and not self._has("arch/x86/Kconfig"):
            return "i386"
        return arch

    def _has(self, rel: str) -> bool:
        if hasattr(self.tree, "root"):
            return (self.tree.root / rel).is_file()
        if rel not in self._names:
            self._names[rel] = hasattr(self.tree, "has_file") and self.tree.has_file(rel)
        return self._names[rel]

    def _cached(self, srcarch: str) -> GuardLogic:
        """load(), through the pvscan cache. A git revision's entry is keyed by its commit, and
        by the ids of the Kconfig blobs it holds: consecutive commits mostly share their
        Kconfig, which is then read once (1.6 s on 6.12). A tree on disk's is keyed by its path
        and holds the hash of every file kconfiglib read, each checked again on use, so that an
        edit to any of them is always seen (a Kconfig that sources files by a glob, which a new
        file could match, is not cached)."""
        import hashlib

        from pvscan.cache import Cache

        stamp = f"{_KCONFIG_VERSION}\0{srcarch}"
        keys = []
        if hasattr(self.tree, "kconfig_blobs") and getattr(self.tree, "commit", None):
            keys.append(f"{stamp}\0git:{self.tree.commit}")
        elif hasattr(self.tree, "root"):
            keys.append(f"{stamp}\0dir:{self.tree.root}")
        else:
            return GuardLogic()
        cache = Cache.for_source(self.tree)
        hit = cache.get(KCONFIG, keys[0])
        if hit is not None and (keys[0].startswith(f"{stamp}\0git:") or self._unchanged(hit[2])):
            return _from_entry(hit)
        if hasattr(self.tree, "kconfig_blob_ids"):
            listing = "".join(f"{rel}\0{oid}\0" for rel, oid in self.tree.kconfig_blob_ids().items())
            keys.append(f"{stamp}\0blobs:{hashlib.sha256(listing.encode('utf-8', 'surrogateescape')).hexdigest()}")
            hit = cache.get(KCONFIG, keys[1])
            if hit is not None:
                cache.put(KCONFIG, keys[0], hit)
                return _from_entry(hit)
        try:
            tree = self._kconfig_files()     # a git revision's Kconfig is read out only on a miss
        except SkippedFile as e:
            return GuardLogic(problem=f"its Kconfig could not be read ({e}); guards compared as text")
        logic = load(tree, srcarch) if tree is not None else GuardLogic()
        if logic.problem is None and logic.needs and logic.files is not None:
            for key in keys:
                cache.put(KCONFIG, key, (logic.needs, logic.excludes, logic.files, logic.defaults, logic.notes,
                                         logic.selects))
        return logic

    def _unchanged(self, files: dict) -> bool:
        import hashlib

        for rel, digest in files.items():
            try:
                if hashlib.sha256(self.tree.read(rel)).hexdigest() != digest:
                    return False
            except SkippedFile:
                return False
        return bool(files)

    def built_when(self, rel: str | None) -> str | None:
        """The condition Kbuild builds a .c file under: 'obj-$(CONFIG_PARAVIRT) += paravirt.o'
        in its directory's Makefile gives 'defined(CONFIG_PARAVIRT)'; for 'obj-y', the condition
        its directory is entered under ('obj-$(CONFIG_LGUEST_GUEST) += lguest/' in arch/x86/Kbuild),
        a few levels up. None when unconditional or unknown."""
        if not rel or self.tree is None or not hasattr(self.tree, "read"):
            return None
        if rel not in self._built_when:
            self._built_when[rel] = self._kbuild_condition(rel)
        self.consulted += self._built_when[rel] is not None
        return self._built_when[rel]

    def _kbuild_condition(self, rel: str) -> str | None:
        conditions = []
        path, entry = rel, rel.rpartition("/")[2].rsplit(".", 1)[0] + ".o"
        for _level in range(3):
            directory = path.rpartition("/")[0]
            found, condition = self._kbuild_entry(directory, entry)
            if not found:
                break
            if condition is None:       # obj-y: built whenever its directory is
                path, entry = directory, directory.rpartition("/")[2] + "/"
                continue
            conditions.append(condition)
            break
        return " && ".join(f"defined({c})" for c in conditions) or None

    def _kbuild_entry(self, directory: str, entry: str) -> tuple[bool, str | None]:
        """(whether directory's Makefile or Kbuild lists entry, the one CONFIG_ it is listed under
        or None for obj-y); an entry listed under two conditions is not found."""
        obj = re.escape(entry)
        for makefile in ("Makefile", "Kbuild"):
            path = f"{directory}/{makefile}" if directory else makefile
            self._makefiles.add(path)          # looked at, there or not
            try:
                data = self.tree.read(path)
            except (SkippedFile, OSError):
                continue
            text = re.sub(r"\\\n", " ", data.decode("utf-8", "replace"))
            conditions: set[str | None] = set()
            for m in re.finditer(r"^\s*obj-(?:\$\((CONFIG_[A-Za-z0-9_]+)\)|(y))\s*[:+]?=(.*)$", text, re.M):
                if re.search(rf"(?:^|\s){obj}(?:\s|$)", m.group(3)):
                    conditions.add(m.group(1))
            if len(conditions) == 1:
                return True, conditions.pop()
        return False, None


def _from_entry(hit: tuple[Any, ...]) -> GuardLogic:
    needs, excludes, files, defaults, notes, selects = hit
    return GuardLogic({k: frozenset(v) for k, v in needs.items()},
                      excludes={k: frozenset(v) for k, v in excludes.items()},
                      defaults={k: tuple((value, guard) for value, guard in v) for k, v in defaults.items()},
                      notes=notes, selects={k: frozenset(v) for k, v in selects.items()},
                      read=tuple(sorted(files or ())))


def _conjoin(guard: str | None, condition: str) -> str:
    return condition if not guard else f"({guard}) && ({condition})"


def load(tree: KernelTree | KconfigBlobs, arch: str) -> GuardLogic:
    """GuardLogic from tree's Kconfig for the architecture's SRCARCH (x86, arm64 ...)."""
    try:
        import kconfiglib
    except ImportError:
        return GuardLogic(problem="kconfiglib is not installed (pip install kconfiglib)")
    top = "Kconfig" if _is_file(tree, "Kconfig") else f"arch/{arch}/Kconfig"
    if not _is_file(tree, top):
        return GuardLogic()   # a tree without a Kconfig (a fixture, a subset): guards as text
    skipped: dict = {}    # rel -> {line number: text} that kconfiglib could not parse
    notes: list = []
    while True:
        read: dict = {}
        loops: list = []
        try:
            with _never_run_anything(kconfiglib, getattr(tree, "glob", None), loops), \
                    _kconfig_environment(tree.root, arch):
                kconf = _reader(kconfiglib, tree, read, skipped)(top, warn=False)
            break
        except Exception as e:   # noqa: BLE001 - a hostile Kconfig must be a warning, whatever kconfiglib raises
            where = _unparsable_line(e, tree)
            if where is not None and sum(map(len, skipped.values())) < MAX_SKIPPED \
                    and where[1] not in skipped.get(where[0], {}):
                rel, line, text = where
                skipped.setdefault(rel, {})[line] = text
                notes.append(f"{rel}:{line}: kconfiglib cannot parse {text[:80]!r}; that line is skipped")
                continue
            first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            return GuardLogic(problem=f"its Kconfig could not be read ({first[:200]}); guards compared as text")
    notes.extend(loops)
    files = None if read.pop(_GLOBBED, False) else read
    return GuardLogic(_needs(kconfiglib, kconf), excludes=_excludes(kconfiglib, kconf), files=files,
                      defaults=_int_defaults(kconfiglib, kconf), notes=tuple(notes),
                      selects=_selects(kconfiglib, kconf), read=tuple(sorted(read)))


def _unparsable_line(error: Exception, tree: KernelTree | KconfigBlobs) -> tuple[str, int, str] | None:
    """(rel, line, text) of the line a kconfiglib parse error names, when it is a file of the
    tree; None for any other error."""
    m = _PARSE_ERROR.search(str(error))
    if m is None:
        return None
    rel = os.path.relpath(m.group("file"), tree.root) if os.path.isabs(m.group("file")) else m.group("file")
    if rel.startswith(".."):
        return None
    return rel, int(m.group("line")), m.group("text")


_GLOBBED = "\0globbed"
_GLOB_SOURCE = re.compile(r'^\s*[or]?source\s+"[^"\n]*[*?[]', re.M)


def _reader(kconfiglib: Any, tree: KernelTree | KconfigBlobs, read: dict[str, str | bool],
            skipped: dict[str, dict[int, str]] | None = None) -> type:
    """kconfiglib reading through tree.read; read gets {rel: sha256} of every file it opens.
    skipped: {rel: {line number: text}} of lines to read as blank."""
    import hashlib

    class TreeKconfig(kconfiglib.Kconfig):
        def _build_dep(self) -> None:
            # Each item's dependents are a set of objects, whose order follows their addresses:
            # walked in order of name and place instead, the dependency loop kconfiglib meets
            # first (and so the note that names it) is the same in every run.
            super()._build_dep()
            for item in list(self.unique_defined_syms) + list(self.unique_choices):
                item._dependents = _InOrder(item._dependents)

        def _open(self, filename: str, mode: str) -> io.StringIO:
            if mode != "r":
                raise OSError(f"pvscan reads the Kconfig only, never writes ({filename})")
            rel = os.path.relpath(filename, tree.root)
            data = tree.read(rel)
            read[rel] = hashlib.sha256(data).hexdigest()
            text = data.decode("utf-8", "replace")
            if _GLOB_SOURCE.search(text):
                read[_GLOBBED] = True
            text = _BARE_MODULES.sub(r"\1option modules", text)
            text = _DEPENDS_WITHOUT_ON.sub(r"\1depends on\2", text)
            text = _TRANSITIONAL.sub("", text)
            text = _CONDITIONAL_DEPENDS.sub(r"\1(\2) || !(\3)", text)
            if skipped and rel in skipped:
                lines = text.split("\n")
                for number in skipped[rel]:
                    if 0 < number <= len(lines):
                        lines[number - 1] = ""
                text = "\n".join(lines)
            return io.StringIO(_PROMPT_SEMICOLON.sub(r"\1", text))
    return TreeKconfig


class _InOrder(set):
    """A set of Kconfig items that iterates in order of name and place."""

    def __iter__(self) -> Iterator[Any]:
        return iter(sorted(set.__iter__(self), key=lambda item: item.name_and_loc))


def _is_file(tree: KernelTree | KconfigBlobs, rel: str) -> bool:
    return tree.is_file(rel) if isinstance(tree, KconfigBlobs) else (tree.root / rel).is_file()


@contextmanager
def _never_run_anything(kconfiglib: Any, glob: Callable[[str], Iterator[str]] | None = None,
                        loops: list[str] | None = None) -> Iterator[None]:
    """kconfiglib with '$(shell,...)' giving 'n', (glob) its 'source' patterns matched by glob
    instead of on disk, and (loops) a dependency loop said there instead of raised, as the
    kernel's kconfig says it. All are kconfiglib's module globals: one read at a time."""
    with _lock:
        shell, iglob, found_loop = kconfiglib._shell_fn, kconfiglib.iglob, kconfiglib._found_dep_loop
        kconfiglib._shell_fn = lambda kconf, _name, command: "n"
        if glob is not None:
            kconfiglib.iglob = glob
        if loops is not None:
            def note_loop(loop: tuple[Any, ...], cur: Any) -> tuple[Any, ...] | None:
                if cur is not loop[0]:
                    return loop + (cur,)
                names = " -> ".join(item.name_and_loc for item in loop + (loop[0],))
                loops.append(f"dependency loop {names}; read on, as the kernel's kconfig does")
                return None
            kconfiglib._found_dep_loop = note_loop
        try:
            yield
        finally:
            kconfiglib._shell_fn, kconfiglib.iglob, kconfiglib._found_dep_loop = shell, iglob, found_loop


class KconfigBlobs:
    """A git revision's Kconfig files, in memory, as kconfiglib would find them copied out under
    root: read() gives a file's bytes, glob() matches a 'source' pattern as glob.iglob would
    match it in such a copy. Copying 6.12's 1,813 files out to disk took 0.6-0.9 s."""

    # A name only: nothing is read or written there (kconfiglib resolves it, which a path
    # that does not exist leaves as it is).
    root = Path("/pvscan-git-revision")

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.children: dict[str, set] = {}       # directory ('' the top) -> names of its entries
        for rel in blobs:
            parts = rel.split("/")
            for depth in range(len(parts)):
                self.children.setdefault("/".join(parts[:depth]), set()).add(parts[depth])

    def is_file(self, rel: str) -> bool:
        return rel in self.blobs

    def read(self, rel: str) -> bytes:
        if rel not in self.blobs:
            raise MissingFile("not in the revision's Kconfig files")
        return self.blobs[rel]

    def glob(self, pattern: str) -> Iterator[str]:
        """The paths under root that pattern (absolute) names, as glob.iglob finds them on disk:
        '*', '?' and '[...]' within one path component, never a hidden name unless the
        component begins with '.'; a component without them names an entry that exists, '.'
        and '..' the directory itself and its parent (spelled as given, as glob leaves them)."""
        import fnmatch

        prefix = str(self.root) + os.sep
        if not pattern.startswith(prefix):
            return iter(())
        found = [("", "")]            # (the path as spelled, the directory it names)
        components = pattern[len(prefix):].split("/")
        for i, component in enumerate(components):
            last = i == len(components) - 1
            step = []
            for spelled, directory in found:
                if component in (".", ".."):
                    if component == ".." and not directory:
                        continue      # out of the revision: nothing of it is here
                    key = directory if component == "." else directory.rpartition("/")[0]
                    step.append((f"{spelled}/{component}" if spelled else component, key))
                    continue
                names = self.children.get(directory, set())
                if _MAGIC.search(component):
                    hidden = component.startswith(".")
                    matched = sorted(n for n in names if fnmatch.fnmatchcase(n, component)
                                     and (hidden or not n.startswith(".")))
                else:
                    matched = [component] if component in names else []
                for name in matched:
                    key = f"{directory}/{name}" if directory else name
                    if last or key in self.children:
                        step.append((f"{spelled}/{name}" if spelled else name, key))
            found = step
        return iter([prefix + spelled for spelled, _key in found])


_MAGIC = re.compile(r"[*?[]")


@contextmanager
def _kconfig_environment(root: Path, arch: str) -> Iterator[None]:
    """The variables the kernel's Kconfig reads, set for the read and restored after. KCONFIG_FUNCTIONS
    names no module, so kconfiglib imports none (its default, kconfigfunctions, could be anywhere)."""
    values = {"srctree": str(root), "SRCARCH": arch, "ARCH": arch, "KERNELVERSION": "pvscan",
              "CC": "cc", "LD": "ld", "HOSTCC": "cc", "HOSTCXX": "c++", "CC_VERSION_TEXT": "pvscan",
              "RUSTC": "rustc", "BINDGEN": "bindgen", "PAHOLE": "pahole",
              "KCONFIG_FUNCTIONS": "pvscan._no_kconfig_functions", "KCONFIG_WARN_UNDEF": "", "KCONFIG_STRICT": ""}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _conjuncts(kconfiglib: Any, expr: KconfigExpr) -> set[str]:
    """The symbols an expression needs whatever else holds: those of its top-level '&&' chain."""
    if isinstance(expr, tuple):
        if expr[0] == kconfiglib.AND:
            return _conjuncts(kconfiglib, expr[1]) | _conjuncts(kconfiglib, expr[2])
        return set()
    if isinstance(expr, kconfiglib.Symbol) and not expr.is_constant and expr.name not in ("y", "m", "n"):
        return {expr.name}
    return set()


def _negated(kconfiglib: Any, expr: KconfigExpr) -> set[str]:
    """The symbols an expression needs unset whatever else holds: the '!X' of its '&&' chain."""
    if isinstance(expr, tuple):
        if expr[0] == kconfiglib.AND:
            return _negated(kconfiglib, expr[1]) | _negated(kconfiglib, expr[2])
        if expr[0] == kconfiglib.NOT and isinstance(expr[1], kconfiglib.Symbol) and not expr[1].is_constant:
            return {expr[1].name}
    return set()


def _only_default(kconf: Any, sym: Any) -> KconfigExpr:
    """What an option without a prompt is, when nothing selects it and one unconditional default
    gives its value: 'config X86_32 def_bool !64BIT' is set exactly when !64BIT holds."""
    if any(node.prompt for node in sym.nodes) or sym.rev_dep is not kconf.n or len(sym.defaults) != 1:
        return kconf.n
    value, cond = sym.defaults[0]
    return value if cond is kconf.y else kconf.n


def _excludes(kconfiglib: Any, kconf: Any) -> dict:
    """{symbol: symbols unset whenever it is set}, from the '!X' in its 'depends on'."""
    out = {}
    for name, sym in kconf.syms.items():
        if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE) and sym.nodes:
            negated = _negated(kconfiglib, sym.direct_dep) | _negated(kconfiglib, _only_default(kconf, sym))
            if negated:
                out[name] = frozenset(negated)
    return out


def _disjuncts(kconfiglib: Any, expr: KconfigExpr) -> list:
    """The alternatives of a top-level '||' chain (the selectors in a rev_dep)."""
    if isinstance(expr, tuple) and expr[0] == kconfiglib.OR:
        return _disjuncts(kconfiglib, expr[1]) + _disjuncts(kconfiglib, expr[2])
    return [expr]


def _selects(kconfiglib: Any, kconf: Any) -> dict:
    """{symbol: symbols it selects with no condition of its own}: set whenever it is, whatever they
    depend on. (kconfiglib folds the symbol's own 'depends on' into each select's condition, and
    those hold whenever the symbol is set.)"""
    out = {}
    for name, sym in kconf.syms.items():
        if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE) and sym.nodes:
            own = _conjuncts(kconfiglib, sym.direct_dep)
            targets = {target.name for target, cond in sym.selects
                       if target.type in (kconfiglib.BOOL, kconfiglib.TRISTATE)
                       and (cond is kconf.y or _is_conjunction_of(kconfiglib, cond, own))}
            if targets:
                out[name] = frozenset(targets)
    return out


def _is_conjunction_of(kconfiglib: Any, expr: KconfigExpr, names: Iterable[str]) -> bool:
    """Whether expr is a '&&' of plain symbols, all among names."""
    if isinstance(expr, tuple):
        return expr[0] == kconfiglib.AND and all(_is_conjunction_of(kconfiglib, e, names) for e in expr[1:])
    return isinstance(expr, kconfiglib.Symbol) and not expr.is_constant and expr.name in names


def _needs(kconfiglib: Any, kconf: Any) -> dict:
    """{symbol: symbols set whenever it is}. A symbol needs its 'depends on'; one without a
    prompt and with one unconditional default also needs what that default needs; one without
    either can only be selected, so it also needs what every one of its selectors needs."""
    direct = {}
    selectable_only = {}
    for name, sym in kconf.syms.items():
        if sym.type not in (kconfiglib.BOOL, kconfiglib.TRISTATE) or not sym.nodes:
            continue
        direct[name] = _conjuncts(kconfiglib, sym.direct_dep) | _conjuncts(kconfiglib, _only_default(kconf, sym))
        has_prompt = any(node.prompt for node in sym.nodes)
        has_default = any(d[0] is not kconf.n for d in sym.defaults)
        if not has_prompt and not has_default and sym.rev_dep is not kconf.n:
            selectable_only[name] = _disjuncts(kconfiglib, sym.rev_dep)
    memo: dict = {}

    def needs(name: str, seen: frozenset[str]) -> set[str]:
        if name in memo:
            return memo[name]
        if name in seen or name not in direct:
            return set()
        seen = seen | {name}
        out = set(direct[name])
        for other in list(out):
            out |= needs(other, seen)
        if name in selectable_only:
            common = None
            for alternative in selectable_only[name]:
                required = _conjuncts(kconfiglib, alternative)
                for other in list(required):
                    required |= needs(other, seen)
                common = required if common is None else common & required
            out |= common or set()
        memo[name] = out
        return out

    return {name: frozenset(needs(name, frozenset())) for name in sorted(direct)}


def _int_defaults(kconfiglib: Any, kconf: Any) -> dict:
    """{option: ((value, guard), ...)} of the int options that no prompt, no 'depends on' and
    no condition pvscan cannot write as a guard stand between their defaults and their
    value: those a configuration decides through their defaults alone."""
    out = {}
    for name, sym in kconf.syms.items():
        if (sym.orig_type is not kconfiglib.INT or not sym.nodes or any(node.prompt for node in sym.nodes)
                or sym.direct_dep is not kconf.y or not sym.defaults):
            continue
        rows = []
        for value, cond in sym.defaults:
            guard = _as_guard(kconfiglib, kconf, cond)
            # kconfiglib reads 'default 5' as a symbol named '5' that nothing defines.
            if value.nodes or not re.fullmatch(r"-?[0-9]+", value.name) or guard is None:
                break
            rows.append((int(value.name), guard))
        else:
            out[name] = tuple(rows)
    return out


def _as_guard(kconfiglib: Any, kconf: Any, expr: KconfigExpr) -> str | None:
    """A Kconfig condition as a preprocessor guard over CONFIG_ options, or None: only y, n,
    bool options and !, &&, || are written (a tristate may be m, which no #ifdef sees)."""
    if expr is kconf.y:
        return "1"
    if expr is kconf.n:
        return "0"
    if isinstance(expr, kconfiglib.Symbol):
        # orig_type: kconfiglib calls a tristate bool where MODULES is unset, but a kernel
        # configuration can set it m.
        return f"defined(CONFIG_{expr.name})" if expr.orig_type is kconfiglib.BOOL and not expr.is_constant else None
    if isinstance(expr, tuple) and expr[0] == kconfiglib.NOT:
        inner = _as_guard(kconfiglib, kconf, expr[1])
        return None if inner is None else f"!({inner})"
    if isinstance(expr, tuple) and expr[0] in (kconfiglib.AND, kconfiglib.OR):
        left, right = (_as_guard(kconfiglib, kconf, e) for e in expr[1:3])
        if left is None or right is None:
            return None
        return f"({left}) {'&&' if expr[0] == kconfiglib.AND else '||'} ({right})"
    return None
