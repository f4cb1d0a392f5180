"""pvscan review --tree PATH [--abi ...] PATCH|-: what a patch does to pv_ops, on its own lines."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError
from pvscan.findings import fails_at, severity_counts, verdict
from pvscan.talk import Talk

if TYPE_CHECKING:
    from argparse import Namespace

    from pvscan.review.patch import Patch
    from pvscan.run import Run
    from pvscan.source import Source


MAX_PATCH_BYTES = 256 * 1024 * 1024


def main(args: Namespace, run: Run) -> int:
    from pvscan import api
    from pvscan.abi import load_abi
    from pvscan.progress import Progress
    from pvscan.report import ReviewRun, finding_reporter, report_findings
    from pvscan.report.color import use_color
    from pvscan.review.patch import Patch, read_patch_bytes
    from pvscan.rulebook import every_rule
    from pvscan.source.directory import KernelTree

    if args.per_commit and not args.git:
        raise PvscanError("--per-commit reviews a git range commit by commit: it goes with --git REPO A..B")
    tree: Source
    if args.git:
        from pvscan.source.git import GitRange

        if len(args.patch) != 1:
            raise PvscanError("with --git, name one range A..B")
        tree = GitRange(args.git, args.patch[0], run)
        refuse_writes_into([tree], args.output)
        # --per-commit: the range's commits as a series (one mail each), else its one diff.
        data, name = (tree.commits() if args.per_commit else tree.diff()), f"{args.git} {args.patch[0]}"
        # A range that changes no candidate file (only drivers, say): nothing of pv_ops changes.
        patches = read_patch_bytes(data, name) if data else [Patch("", None, None)]
        del data        # the patch's bytes: 18 MB for the whole 6.1 -> 6.12 x86 change
    else:
        args.tree = "." if args.tree is None else args.tree     # the tree the current directory is in
        name = ", ".join(args.patch)
        patches = [p for path in _patch_files(args.patch) for p in _read_patches(path)]
    abis = [load_abi(a, run) for a in args.abi]
    if not args.git:
        # A checkout is reviewed on its last search while 'git status' runs, then checked: on
        # 6.12, the review's work no longer waits for git, nor shares the machine with it.
        tree = KernelTree(args.tree, run, remembered_search=True)
        refuse_writes_into([tree], args.output)
        tree = _at_base_commit(tree, args.tree, patches, Talk.of(args))
    backends = api.backend_map(args.backend_map, args.backend, run)
    line = Progress.for_terminal(args.progress)
    try:
        series = api.review(tree, patches, abis, name=name, backends=backends, jobs=args.jobs, progress=line)
    finally:
        line.done()
    tree.close()
    reviews = series.patches
    color = args.format == "text" and args.output in (None, "-") and use_color(args.color)
    every_finding = [f for r in reviews for f in r.findings]
    fails = fails_at(args.fail_on, every_finding)
    review_run = ReviewRun(tuple(reviews), tuple(every_rule()), color,
                           verdict(severity_counts(every_finding), every_finding, args.fail_on, fails),
                           summary_lines=not args.no_summary, whole=series.whole)
    quiet = Talk.of(args).quiet and args.format == "text"    # -q: the errors and the verdict
    text = report_findings(finding_reporter("review", args.format)(review_run),
                           [(r, [f for f in r.findings if f.severity == "error" or not quiet]) for r in reviews])
    Talk.of(args).warnings([w for r in reviews for w in r.warnings])
    write_output(text, args.output)
    return 1 if fails else 0


def _at_base_commit(tree: Source, path: str, patches: list[Patch], talk: Talk) -> Source:
    """The tree to apply to: the commit the patches name as their base ('base-commit:', as
    git format-patch --base writes it) when --tree is a git checkout that has it, read from its
    objects; else the tree as it is."""
    import os

    from pvscan.source.git import GitTree, Repository, resolve_commit

    base = next((p.base_commit for p in patches if p.base_commit), None)
    if base is None:
        return tree
    try:
        if os.path.realpath(path) not in Repository(path, tree.run).places:
            return tree         # a directory inside some repository, not a kernel checkout's top
        commit = resolve_commit(tree.run, path, base)
    except PvscanError:
        return tree
    talk.note(f"note: reviewing against the patches' base-commit {commit[:12]}, read from {path}'s objects")
    return GitTree(path, commit, tree.run)


# What a directory of a series holds: git format-patch's NNNN-subject.patch, quilt's and
# b4's files, saved mails.
_SERIES_SUFFIXES = (".patch", ".diff", ".mbox", ".eml", ".mbx")


def _patch_files(paths: list[str]) -> list[str]:
    """The files a series names, in order: each file as given, each directory's patch files by
    name (git format-patch numbers them), standard input once."""
    import os

    out = []
    if paths.count("-") > 1:
        raise PvscanError("standard input (-) can be read once")
    for path in paths:
        if path != "-" and os.path.isdir(path):
            inside = sorted(e.name for e in os.scandir(path)
                            if e.name.endswith(_SERIES_SUFFIXES) and e.is_file() and not e.name.startswith("."))
            if not inside:
                raise PvscanError(f"no patch files ({', '.join('*' + s for s in _SERIES_SUFFIXES)}) in the directory",
                                  path)
            out += [os.path.join(path, name) for name in inside]
        else:
            out.append(path)
    return out


def _read_patches(path: str) -> list:
    """The patches of one input, read line by line (a 200 MB patch is never held whole)."""
    from pvscan.review.patch import read_patch_lines
    from pvscan.source.files import read_input_lines

    if path == "-" and (sys.stdin is None or sys.stdin.closed):
        raise PvscanError("standard input is closed: give the patch as a file, or pipe it in", "-")
    lines, binary = read_input_lines(None if path == "-" else path, "the patch", MAX_PATCH_BYTES)
    source = "<stdin>" if path == "-" else path
    if binary:
        raise PvscanError("not a patch: binary data", source)
    return read_patch_lines(lines, source)
