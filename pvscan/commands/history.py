"""pvscan history: the inventory across revisions (git) or trees, and what each ABI could not express."""

from __future__ import annotations

import os
import subprocess
import sys

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, Warning_, print_warnings


def run(args) -> int:
    from pvscan.abi import load_abi
    from pvscan.history.run import RevisionSpec, abi_pairs, events, link, run_revisions
    from pvscan.inventory.backends import build_backend_map
    from pvscan.report.history import HISTORY_FORMATS

    abis = [load_abi(a).name for a in args.abi]            # fail early on a bad ABI file
    rules = build_backend_map(args.backend_map, args.backend).rules
    extra = tuple(r for r in rules if r not in _defaults())
    if args.git:
        revs = _revisions(args.git, args.revisions, args.tags)
        specs = [RevisionSpec(label, "git", args.git, rev, tuple(args.abi), extra) for label, rev in revs]
    else:
        if not args.revisions:
            raise PvscanError("name two or more trees, or --git REPO with revisions")
        from pvscan.source.directory import KernelTree

        refuse_writes_into([KernelTree(p) for p in args.revisions], args.output)
        specs = [RevisionSpec(p, "tree", p, None, tuple(args.abi), extra) for p in args.revisions]
    if len(specs) < 1:
        raise PvscanError("no revision to analyse")
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    progress = _Progress(len(specs)) if sys.stderr.isatty() and not args.no_progress else None
    summaries = run_revisions(specs, scheduler=scheduler, jobs=args.jobs, progress=progress)
    if progress:
        progress.done()
    if not any(s.ops for s in summaries):
        reasons = "; ".join(f"{s.label}: {s.warning}" for s in summaries if s.warning)
        raise PvscanError(f"no revision has a paravirt ops table ({reasons})")
    lineages = link(summaries)
    lineages.sort(key=lambda lin: lin.identity)
    events_of = {lin.identity: events(lin, summaries) for lin in lineages}
    h = {"summaries": summaries, "lineages": lineages, "events": events_of,
         "pairs": abi_pairs(abis, lineages, summaries, events_of)}
    print_warnings([Warning_(s.label, 0, s.warning) for s in summaries if s.warning], sys.stderr)
    write_output(HISTORY_FORMATS[args.format](h, {}), args.output)
    return 0


def _defaults():
    from pvscan.inventory.backends import DEFAULT_MAP

    return set(DEFAULT_MAP)


def _git(repo, *args):
    proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PvscanError(f"git {args[0]}: {proc.stderr.strip()}", repo)
    return proc.stdout


def _revisions(repo, given, tags):
    """[(label, rev)]: the revisions named, or those of a range A..B (its tags with --tags)."""
    from pvscan.source.git import open_repo, resolve_commit

    open_repo(repo)
    out = []
    for item in given:
        if ".." in item:
            a, b = item.split("..", 1)
            for rev in (a, b):
                resolve_commit(repo, rev)
            if tags:
                inside = set(_git(repo, "rev-list", f"{a}..{b}").split())
                names = [t for t in _git(repo, "tag", "--list", tags, "--sort=v:refname").split()
                         if _git(repo, "rev-list", "-n", "1", t).strip() in inside]
                picked = [a] + names
            else:
                picked = [a] + _git(repo, "rev-list", "--first-parent", "--reverse", f"{a}..{b}").split()
            if len(picked) < 2:
                raise PvscanError(f"the range {item} holds no revision" + (f" tagged {tags}" if tags else ""), repo)
            out += [(p if not _is_sha(p) else p[:12], p) for p in picked]
        else:
            resolve_commit(repo, item)
            out.append((item, item))
    seen, unique = set(), []
    for label, rev in out:
        if label not in seen:
            seen.add(label)
            unique.append((label, rev))
    return unique


def _is_sha(text):
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


class _Progress:
    """revisions done of total, files parsed, cache hits: on a terminal only."""

    def __init__(self, total):
        self.total, self.done_count, self.files, self.hits = total, 0, 0, 0

    def __call__(self, summary):
        self.done_count += 1
        self.files += summary.files
        self.hits += summary.cache_hits
        sys.stderr.write(f"\rpvscan history: {self.done_count}/{self.total} revisions, "
                         f"{self.files} files, {self.hits} from cache")
        sys.stderr.flush()

    def done(self):
        sys.stderr.write("\n")
