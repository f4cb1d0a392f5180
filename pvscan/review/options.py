"""What a patch's Kconfig hunks do to the ops: an option an op's guard names that the patch
makes mean something else (what it depends on, what selects it, what it excludes, its
defaults) changes the op's guard as a changed #if would (PV106)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.facts.guards import config_options
from pvscan.review.apply import apply_file
from pvscan.review.changes.pv106_guard_changed import GuardChanged

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from pvscan.findings import Finding
    from pvscan.inventory.model import Op
    from pvscan.kconfig import GuardLogic, LazyGuardLogic
    from pvscan.review.patch import FilePatch
    from pvscan.source.patched import PatchedSource


def is_kconfig(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith("Kconfig")


def option_changes(files: Sequence[FilePatch], state: PatchedSource, guards: LazyGuardLogic | None,
                   ops: Sequence[Op]) -> tuple[list[Finding], set[str]]:
    """(PV106 of each op whose guard names an option the Kconfig hunks change, the Kconfig files
    judged): each architecture's Kconfig read as the tree has it and as the patch leaves it. A
    file whose hunks do not all apply, or a Kconfig that cannot be read again, is not judged."""
    patched, hunks = _applied(files, state)
    if guards is None or not patched:
        return [], set()
    findings: list[Finding] = []
    judged: set[str] = set()
    for arch in _arches(patched, {o.arch for o in ops} - {"generic"}):
        options = {option for o in ops if o.arch == arch for option in config_options(o.guard)}
        first = guards.logic_of(arch)
        if first is None or first.problem:
            continue
        if not _touches(hunks.values(), _relevant(first, options)):
            # No changed line can change an option the ops' guards depend on: the Kconfig read
            # again (seconds) would say the same of them.
            judged |= set(patched) & set(first.read)
            continue
        both = guards.patched(arch, patched)
        if both is None or both[1].problem:
            continue
        before, after = both
        judged |= set(patched) & set(before.read)
        findings += _changed_guards([o for o in ops if o.arch == arch], before, after, hunks)
    return findings, judged


def _applied(files: Sequence[FilePatch], state: PatchedSource) -> tuple[dict[str, bytes], dict[str, FilePatch]]:
    """({path: the Kconfig file as the patch leaves it}, {path: its file patch}) of the files
    whose hunks all apply (a file renamed or created is not among them)."""
    patched: dict[str, bytes] = {}
    hunks: dict[str, FilePatch] = {}
    for fp in files:
        text = state.get(fp.old_path) if fp.old_path else None
        result = apply_file(text, fp) if text is not None and fp.new_path == fp.old_path else None
        if result is not None and result.complete:
            patched[fp.path], hunks[fp.path] = result.text, fp
    return patched, hunks


def _changed_guards(ops: Sequence[Op], before: GuardLogic, after: GuardLogic,
                    hunks: dict[str, FilePatch]) -> list[Finding]:
    """PV106 of each op whose guard names an option the patched Kconfig gives another meaning."""
    out = []
    for op in ops:
        for option in config_options(op.guard):
            change = _described(before, after, option)
            if change:
                rel, line = _where(hunks, option)
                out.append(GuardChanged().option(op, rel, line, f"CONFIG_{option}", change))
    return out


def _arches(patched: Iterable[str], arches: set[str]) -> list[str]:
    """The architectures whose Kconfig the changed files can be part of: arch/A/... is A's alone
    (reading another architecture's Kconfig costs seconds); a file elsewhere is every one's."""
    named = {p.split("/")[1] for p in patched if p.startswith("arch/") and p.count("/") >= 2}
    if any(not (p.startswith("arch/") and p.count("/") >= 2) for p in patched):
        return sorted(arches)
    # 'x86' is the srcarch of i386 and x86_64 as well (LazyGuardLogic maps them).
    return sorted(a for a in arches if a in named or (a in ("i386", "x86_64") and "x86" in named))


def _relevant(logic: GuardLogic, options: set[str]) -> set[str]:
    """The options whose Kconfig entries decide what the given ones mean: themselves, what they
    need and exclude, what selects them, and what those need."""
    out = set(options)
    for option in options:
        selectors = _selected_by(logic, option)
        out |= logic.needs.get(option, set()) | logic.excludes.get(option, set()) | selectors
        for s in selectors:
            out |= logic.needs.get(s, set())
    return out


def _touches(files: Iterable[FilePatch], relevant: set[str]) -> bool:
    """Whether a changed line of the Kconfig hunks can change what a relevant option needs,
    excludes or defaults to: its entry's type, dependencies or defaults, a 'select' (or 'imply')
    of it, or an 'if' or 'choice' block's bounds (they add dependencies to what they hold)."""
    for fp in files:
        for _line, entry, words in _changed_lines(fp):
            if words[0] in _BOUNDS or (words[0] in _SELECTS and len(words) > 1 and words[1] in relevant):
                return True
            if entry in relevant and words[0] in _ENTRY_KEYS:
                return True
    return False


def _changed_lines(fp: FilePatch) -> Iterator[tuple[int, str | None, list[str]]]:
    """(line in the new file, the 'config' entry it is in, its words) of each changed line of a
    Kconfig file patch; a removed line at the new line where it was."""
    for h in fp.hunks:
        line, entry = h.new_start, None
        for tag, text in h.lines:
            words = text.split() or [""]
            if words[0] in ("config", "menuconfig") and len(words) > 1:
                entry = words[1]
            if tag in "+-":
                yield max(line, 1), entry, words
            line += tag in " +"


# The lines of an entry that decide what its option needs, excludes or defaults to.
_ENTRY_KEYS = frozenset({"config", "menuconfig", "bool", "tristate", "int", "hex", "string", "def_bool",
                         "def_tristate", "default", "depends", "prompt", "visible"})
_SELECTS = frozenset({"select", "imply"})
_BOUNDS = frozenset({"if", "endif", "choice", "endchoice", "source", "rsource", "osource", "orsource"})


def _described(before: GuardLogic, after: GuardLogic, option: str) -> str:
    """What the patch changes of one option, in words; '' for nothing."""
    def listed(names: Iterable[str] | None) -> str:
        return ", ".join(sorted(names)) if names else "nothing"

    said = []
    for what, b, a in (("needs", before.needs.get(option), after.needs.get(option)),
                       ("excludes", before.excludes.get(option), after.excludes.get(option)),
                       ("is selected by", _selected_by(before, option), _selected_by(after, option))):
        if frozenset(b or ()) != frozenset(a or ()):
            said.append(f"{what} {listed(b)} -> {listed(a)}")
    if before.defaults.get(option) != after.defaults.get(option):
        said.append("its defaults change")
    return "; ".join(said)


def _selected_by(logic: GuardLogic, option: str) -> frozenset[str]:
    return frozenset(s for s, selected in logic.selects.items() if option in selected)


def _where(hunks: dict[str, FilePatch], option: str) -> tuple[str, int]:
    """The Kconfig line that speaks of the option in the patch: the first changed line in its
    'config' entry or naming it ('select X'), else the first hunk's first line."""
    for rel in sorted(hunks):
        for line, entry, words in _changed_lines(hunks[rel]):
            if entry == option or option in words:
                return rel, line
    first = sorted(hunks)[0]
    return first, max(hunks[first].hunks[0].new_start, 1) if hunks[first].hunks else 1
