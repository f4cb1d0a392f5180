"""Which revisions a history covers: the ones named, or those of a range A..B (its tags with a glob).

Runs only git itself on the repository (rev-parse, rev-list, tag).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.errors import PvscanError
from pvscan.run import Run
from pvscan.source.git import run_git

if TYPE_CHECKING:
    from collections.abc import Sequence


def revisions(repo: str, given: Sequence[str], tags: str | None, run: Run | None = None) -> list[tuple[str, str]]:
    """[(label, commit)]: each named revision, or a range's first-parent line (or its tags matching
    the glob). Each is pinned to its commit here, once: a branch that moves while the revisions
    are scanned, or before a long-lived Dask worker scans them, changes nothing."""
    from pvscan.source.git import open_repo, resolve_commit

    run = run or Run()
    open_repo(run, repo)
    out = []
    for item in given:
        if ".." in item:
            a, b = item.split("..", 1)
            for rev in (a, b):
                resolve_commit(run, repo, rev)
            if tags:
                picked = [a] + _tags_inside(repo, f"{a}..{b}", tags)
            else:
                picked = [a] + _git(repo, "rev-list", "--first-parent", "--reverse", "--end-of-options",
                                    f"{a}..{b}").split()
            if len(picked) < 2:
                raise PvscanError(f"the range {item} holds no revision" + (f" tagged {tags}" if tags else ""), repo)
            tagged = _tag_of_commit(repo) if any(_is_sha(p) for p in picked) else {}
            # A commit a tag names is labelled by the tag (v6.11), else by its short id.
            out += [(p if not _is_sha(p) else tagged.get(p, p[:12]), resolve_commit(run, repo, p)) for p in picked]
        else:
            out.append((item, resolve_commit(run, repo, item)))
    seen, unique = set(), []
    for label, rev in out:
        if label not in seen:
            seen.add(label)
            unique.append((label, rev))
    return unique


def _tags_inside(repo: str, span: str, glob: str) -> list[str]:
    """The tags matching glob whose commit is in span (A..B), in version order, one a commit: one for-each-ref
    for all of them (5,000 tags were 5,000 rev-lists), the glob under refs/tags/ so that no user
    value reaches git as an option."""
    inside = set(_git(repo, "rev-list", "--end-of-options", span).split())
    refs = _git(repo, "for-each-ref", "--sort=v:refname",
                "--format=%(refname:strip=2)%00%(*objectname)%00%(objectname)", f"refs/tags/{glob}")
    names, taken = [], set()
    for line in refs.splitlines():
        name, peeled, target = (line.split("\0") + ["", ""])[:3]
        commit = peeled or target          # an annotated tag's commit is its peeled object
        # A commit that several tags name is one revision, under the first of them: 5,000 tags
        # of one commit were 5,000 scans of it.
        if commit in inside and commit not in taken:
            taken.add(commit)
            names.append(name)
    return names


def _tag_of_commit(repo: str) -> dict[str, str]:
    """{commit: the first tag, in version order, that names it}, from one for-each-ref."""
    refs = _git(repo, "for-each-ref", "--sort=v:refname",
                "--format=%(refname:strip=2)%00%(*objectname)%00%(objectname)", "refs/tags/")
    out: dict[str, str] = {}
    for line in refs.splitlines():
        name, peeled, target = (line.split("\0") + ["", ""])[:3]
        out.setdefault(peeled or target, name)
    return out


def _git(repo: str, *args):
    proc = run_git(repo, *args)
    if proc.returncode != 0:
        raise PvscanError(f"git {args[0]}: {proc.stderr.decode(errors='replace').strip()}", repo)
    return proc.stdout.decode("utf-8", "surrogateescape")


def _is_sha(text: str):
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)
