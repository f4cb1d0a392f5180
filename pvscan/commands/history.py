"""pvscan history: the inventory across revisions (git) or trees, and what each ABI could not express."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, Warning_
from pvscan.progress import Progress
from pvscan.talk import Talk

if TYPE_CHECKING:
    from argparse import Namespace

    from pvscan.history.run import RevisionSummary
    from pvscan.run import Run


def main(args: Namespace, run: Run) -> int:
    from pvscan.abi import load_abi
    from pvscan.history.lineage import history_of
    from pvscan.history.revisions import revisions
    from pvscan.history.run import RevisionSpec, run_revisions
    from pvscan.inventory.backends import DEFAULT_MAP, build_backend_map
    from pvscan.report import document_renderer
    from pvscan.report.color import use_color

    abis = [load_abi(a, run).name for a in args.abi]            # fail early on a bad ABI file
    extra = tuple(r for r in build_backend_map(args.backend_map, args.backend, run).rules if r not in set(DEFAULT_MAP))
    if args.git:
        from pvscan.source.git import Repository

        refuse_writes_into([Repository(args.git, run)], args.output)
        specs = [RevisionSpec(label, "git", args.git, rev, tuple(args.abi), extra)
                 for label, rev in revisions(args.git, args.revisions, args.tags, run)]
    else:
        if not args.revisions:
            raise PvscanError("name two or more trees, or --git REPO with revisions")
        from pvscan.source.directory import KernelTree

        refuse_writes_into([KernelTree(p, run) for p in args.revisions], args.output)
        specs = [RevisionSpec(label, "tree", p, None, tuple(args.abi), extra)
                 for label, p in zip(tree_labels(args.revisions), args.revisions)]
    if len(specs) < 1:
        raise PvscanError("no revision to analyse")
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    line = Progress.for_terminal(args.progress)
    done = {"revisions": 0, "files": 0, "hits": 0}

    def tell(summary: RevisionSummary) -> None:
        done["revisions"] += 1
        done["files"] += summary.files
        done["hits"] += summary.cache_hits
        # A revision is a long unit of work: each one is shown as it ends.
        line.show(f"history: {done['revisions']}/{len(specs)} revisions, {done['files']} files, "
                  f"{done['hits']} from cache", force=True)

    try:
        summaries = run_revisions(specs, run, scheduler=scheduler, jobs=args.jobs, progress=tell,
                                  say=lambda text: line.show(f"history: {text}", force=True))
    finally:
        line.done()
    if not any(s.ops for s in summaries):
        reasons = "; ".join(f"{s.label}: {s.warning}" for s in summaries if s.warning)
        raise PvscanError(f"no revision has a paravirt ops table ({reasons})")
    # Guards equal under a revision's Kconfig are no change there (docs/history.md).
    from pvscan.history.run import open_revision
    from pvscan.kconfig import LazyGuardLogic

    guards = {i: LazyGuardLogic(open_revision(spec, run)) for i, spec in enumerate(specs) if summaries[i].ops}
    try:
        doc = history_of(summaries, abis, guards)
    finally:
        for g in guards.values():
            g.close()
            g.tree.close()
    kconfig_problems = sorted({p for g in guards.values() for p in g.problems}
                              | {p for s in summaries for p in s.kconfig_problems})
    talk = Talk.of(args)
    for s in summaries:
        talk.read(f"revision {s.label}: {len(s.ops)} op(s)")
    talk.warnings([Warning_("Kconfig", 0, p) for p in kconfig_problems])
    talk.warnings([Warning_(s.label, 0, s.warning) for s in summaries if s.warning])
    talk.warnings([Warning_(s.label, 0, b) for s in summaries for b in s.blind])
    if args.format == "text" and args.output in (None, "-") and use_color(args.color):
        import dataclasses

        doc = dataclasses.replace(doc, color=True)
    write_output(document_renderer("history", args.format)(doc), args.output)
    # Never 0 blind: a revision whose scan could not place what it saw may miss ops or moves.
    return 1 if any(s.blind for s in summaries) else 0


def tree_labels(paths: list[str]) -> list[str]:
    """Each tree as the history names it: the last part of its path (linux-2.6.32), or as many
    last parts as tell it from the others."""
    from pathlib import PurePath

    parts = [PurePath(os.path.normpath(os.path.abspath(p))).parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = [os.path.join(*p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return list(paths)      # the same tree twice: as given
