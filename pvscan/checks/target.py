"""An ABI's configuration completed from the tree: options its Kconfig rules out, and the values
of the non-CONFIG macros that guards test.

The options come from pvscan.kconfig (X86_PAE is off where the config sets X86_64). The macros:
2.6.3x guards ops with '#if PAGETABLE_LEVELS >= 3', a macro the arch headers
set per target: pgtable-2level_types.h and pgtable-3level_types.h (chosen
by '#ifdef CONFIG_X86_PAE' in pgtable_32_types.h) and pgtable_64_types.h.
Left unset it makes every such op 'unknown' (PV005) under any ABI.

For each such symbol this reads its object-like '#define's in the arch's
headers, keeps those the ABI's target builds, and binds the symbol when
they agree on one value. A header is built when its name fits the target
(x86's '_32'/'_64' suffixes) and, if other headers include it, one of them
is built and includes it under a guard that is not false for the ABI; a
define's own guard must not be false either. Anything less certain leaves
the symbol unset, as before: nothing is guessed.

A tree on disk is searched with ripgrep; a git revision (history) has its
arch headers read once from the object store and searched in Python: the
same lines either way.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from pvscan.facts.guards import config_options, evaluate
from pvscan.facts.preprocess import guard_expression, preprocess
from pvscan.identity import same_arch
from pvscan.source.files import SkippedFile

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from pvscan.abi import Abi
    from pvscan.inventory.model import Op
    from pvscan.kconfig import LazyGuardLogic
    from pvscan.source import ListedSource, Source


_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_NOT_SYMBOLS = {"defined"}
_INTEGER = re.compile(r"^\(?\s*(\d+)[uUlL]*\s*\)?$")
MAX_INCLUDE_DEPTH = 3


def _guards(ops: Iterable[Op], abi: Abi) -> list[str]:
    """The guards of the ops the ABI's kernel has: its architecture's, and the generic ones."""
    return [op.guard for op in ops if op.guard and (same_arch(op.arch, abi.arch) or op.arch == "generic")]


def guard_symbols(ops: Iterable[Op], abi: Abi) -> list[str]:
    """The non-CONFIG identifiers that these ops' guards (of the ABI's architecture) test and its config
    does not set."""
    found = {name for guard in _guards(ops, abi) for name in _IDENT.findall(guard)}
    return sorted(s for s in found - _NOT_SYMBOLS
                  if not s.startswith("CONFIG_") and not s.startswith("__") and s not in abi.config)


def kconfig_symbols(ops: Iterable[Op], abi: Abi) -> list[str]:
    """The options that these ops' guards (of the ABI's architecture) test and its config does not set."""
    return [n for n in config_options(*_guards(ops, abi)) if f"CONFIG_{n}" not in abi.config]


def leaves_unset(ops: list[Op], abi: Abi) -> bool:
    """Whether the ABI's configuration leaves unset something these ops' guards test: only then
    can complete_config change how they are judged."""
    return bool(kconfig_symbols(ops, abi) or guard_symbols(ops, abi))


def complete_config(tree: Source, ops: Iterable[Op], abi: Abi,
                    kconfig: LazyGuardLogic | None = None) -> tuple[Abi, list[Any]]:
    """(the ABI with its config completed for its target, [notes saying where each value came from]),
    for what the guards of ops test: options the tree's Kconfig rules out under the ABI's config
    (kconfig: a LazyGuardLogic), then the non-CONFIG macros of the target's headers."""
    notes = []
    unset = kconfig_symbols(ops, abi)
    if unset and kconfig is not None:
        logic = kconfig.for_arch(abi.arch)
        completed = logic.complete(abi.config, unset) if logic is not None else {}
        if completed:
            abi = dataclasses.replace(abi, config={**abi.config, **completed})
        ruled_out = sorted(k for k, v in completed.items() if v is False)
        selected = sorted(k for k, v in completed.items() if v is True)
        if ruled_out:
            them = "it" if len(ruled_out) == 1 else "them"
            notes.append(f"ABI {abi.name}: {', '.join(f'{k} = n' for k in ruled_out)}: "
                         f"the tree's Kconfig rules {them} out under the ABI's configuration")
        if selected:
            them = "it" if len(selected) == 1 else "them"
            notes.append(f"ABI {abi.name}: {', '.join(f'{k} = y' for k in selected)}: "
                         f"the tree's Kconfig selects {them} under the ABI's configuration")
        given = logic.values(abi.config, unset) if logic is not None else {}
        if given:
            abi = dataclasses.replace(abi, config={**abi.config, **given})
            notes.append(f"ABI {abi.name}: {', '.join(f'{k} = {_value_text(v)}' for k, v in sorted(given.items()))}: "
                         "from the defaults of the tree's Kconfig under the ABI's configuration")
    abi, said = _complete_macros(tree, ops, abi)
    return abi, notes + said


def _value_text(value: object) -> str:
    """4, or '4 or 5' for a set of possible values."""
    return " or ".join(map(str, sorted(value))) if isinstance(value, frozenset) else str(value)


def _complete_macros(tree: Source, ops: Iterable[Op], abi: Abi) -> tuple[Abi, list[Any]]:
    from pvscan.source import ListedSource

    symbols = guard_symbols(ops, abi)
    # A patched tree lists no directories: the ABI stays as it is.
    arch_dirs = _arch_dirs(tree, abi) if symbols and isinstance(tree, ListedSource) else []
    if not arch_dirs or not isinstance(tree, ListedSource):
        return abi, []
    headers = ArchHeaders(tree, arch_dirs)
    pattern = r"^\s*#\s*define\s+(" + "|".join(map(re.escape, symbols)) + r")\b"
    values: dict = {}
    for rel in sorted(headers.matching(pattern)):
        pre = _preprocessed(tree, rel)
        if pre is None or not _built(headers, rel, abi, MAX_INCLUDE_DEPTH):
            continue
        for d in pre.defines:
            if d.name not in symbols or d.params is not None:
                continue
            m = _INTEGER.match(d.body.strip())
            ok, _ = evaluate(guard_expression(pre.guard_at(d.line - 1)), abi.config)
            if m and ok is not False:
                values.setdefault(d.name, {}).setdefault(int(m.group(1)), []).append(f"{rel}:{d.line}")
    bound, notes = {}, []
    for name, by_value in sorted(values.items()):
        if len(by_value) == 1:
            (value, where), = by_value.items()
            bound[name] = value
            notes.append(f"ABI {abi.name}: {name} = {value} for target {abi.target}, from {', '.join(where)}")
    if not bound:
        return abi, []
    return dataclasses.replace(abi, config={**abi.config, **bound}), notes


def _arch_dirs(tree: ListedSource, abi: Abi) -> list[str]:
    arches = ["x86", "i386", "x86_64"] if abi.arch == "x86" else [abi.arch]
    dirs = [f"arch/{a}/include" for a in arches] + [f"include/asm-{a}" for a in arches]
    return [d for d in dirs if tree.is_dir(d)]


class ArchHeaders:
    """The lines of an architecture's header directories that match a pattern: ripgrep's on a
    tree on disk; on a git revision, each header read once and matched in Python."""

    def __init__(self, tree: ListedSource, dirs: list[str]) -> None:
        self.tree = tree
        self.dirs = dirs
        self._texts: dict[str, list[bytes]] | None = None   # {rel: lines} of a tree with no directory to search

    def matching(self, pattern: str) -> dict[str, tuple]:
        """{rel: ((1-based line, its bytes), ...)} of the headers with a line matching pattern."""
        from pvscan.source.directory import KernelTree
        from pvscan.source.search import lines_matching, matching_lines, ripgrep

        if isinstance(self.tree, KernelTree) and ripgrep(self.tree.run):
            return matching_lines(self.tree, pattern, [], self.dirs)
        if self._texts is None:
            texts: dict[str, list[bytes]] = {}
            for rel in self.tree.walk_sources(self.dirs):
                try:
                    texts[rel] = self.tree.read(rel).split(b"\n")
                except (SkippedFile, OSError):
                    continue
            self._texts = texts
        regex = re.compile(pattern.encode())
        found = {rel: lines_matching(lines, regex) for rel, lines in self._texts.items()}
        return {rel: lines for rel, lines in found.items() if lines}


def _preprocessed(tree: Source, rel: str):
    try:
        return preprocess(tree.read(rel))
    except (SkippedFile, OSError):
        return None


_WORD_SIZE = re.compile(r"_(32|64)(?:_|$)")


def _fits_target(rel: str, target: str) -> bool:
    """x86 names its word-size headers *_32.h, *_64_types.h ..."""
    m = _WORD_SIZE.search(rel.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    if m is None:
        return True
    return (m.group(1) == "64") == (target == "x86_64")


def _built(headers, rel: str, abi: Abi, depth: int) -> bool:
    """Whether the ABI's target builds header rel (see the module's docstring)."""
    if not _fits_target(rel, abi.target):
        return False
    if depth == 0:
        return True
    name = rel.rsplit("/", 1)[-1]
    pattern = r'^\s*#\s*include\s*[<"](?:asm/)?' + re.escape(name) + r'[>"]'
    includers = headers.matching(pattern)
    if not includers:
        return True
    for other, lines in includers.items():
        if other == rel:
            continue
        pre = _preprocessed(headers.tree, other)
        if pre is None:
            continue
        for line, _text in lines:
            ok, _ = evaluate(guard_expression(pre.guard_at(line - 1)), abi.config)
            if ok is not False and _built(headers, other, abi, depth - 1):
                return True
    return False
