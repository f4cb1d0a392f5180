"""pvscan as a library: scan a tree, check it against ABIs, review patches.

The commands call these three functions, so what they give is what the command line prints,
before formatting. Each takes a tree (a path, or a source already opened) and a Run: what the
call learns lives there and nowhere else, so calls on different trees, one after the other or
at once on different threads, answer each for its own tree. Without a run, a call is a run of
its own. docs/api.md shows them in use.

`pvscan.scan` and `pvscan.check` are these; the review is `pvscan.api.review` (`pvscan.review`
is the review stage's package).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.progress import NONE, Progress
from pvscan.run import Run

if TYPE_CHECKING:
    from pvscan.abi import Abi
    from pvscan.checks.check import CheckResult
    from pvscan.inventory.backends import BackendMap
    from pvscan.pipeline import ScanResult
    from pvscan.review.patch import Patch
    from pvscan.review.review import SeriesReview
    from pvscan.source import Source


def open_tree(tree: str | os.PathLike[str] | Source, run: Run | None = None) -> Source:
    """A kernel tree in a directory (the tree it is inside, for a directory inside one), read
    for run; a source already opened (a git revision, a patched tree) as it is (pipeline.open_tree)."""
    from pvscan import pipeline

    return pipeline.open_tree(tree, run)


def backend_map(map_file: str | None = None, backends: Sequence[str] = (), run: Run | None = None) -> BackendMap:
    """Which backend each file belongs to: the built-in map, after the --backend PATTERN=NAME
    rules given and those of a --backend-map file (docs/backends.md)."""
    from pvscan.inventory.backends import build_backend_map

    return build_backend_map(map_file, list(backends), run)


def scan(tree: str | os.PathLike[str] | Source, *, callers: bool = True, backends: BackendMap | None = None,
         jobs: int | None = None, progress: Progress = NONE, run: Run | None = None) -> ScanResult:
    """The tree's inventory: every op of its tables and static calls, with signature, convention,
    guard, call sites, wrappers, implementations; and (callers) each wrapper's callers. A
    PvscanError when the tree has no paravirt ops table."""
    from pvscan.pipeline import scan as scan_source

    source = open_tree(tree, run)
    return scan_source(source, backend_map=backends or backend_map(run=source.run), jobs=jobs,
                       callers=callers, progress=progress)


@dataclass(frozen=True)
class Checked:
    """What check() found: the scan it checked, the findings and coverage of each ABI, and
    what to tell the user of the ABIs' completed configuration (or of the glue traced)."""

    scan: ScanResult
    result: CheckResult
    notes: tuple[str, ...]


def check(tree: str | os.PathLike[str] | Source, abis: Sequence[str | Abi], *, trace_glue: bool = False,
          precise: bool = False, config: str | None = None, backends: BackendMap | None = None,
          jobs: int | None = None, progress: Progress = NONE, run: Run | None = None,
          scanned: ScanResult | None = None) -> Checked:
    """The tree's inventory against each ABI (a bundled name, a file, or an Abi): findings by
    rule (pvscan rules) and each op's coverage. scanned: the tree's scan, when the caller has it."""
    from pvscan.abi import load_abi
    from pvscan.checks.check import check_tree

    source = open_tree(tree, run)
    loaded = [load_abi(a, source.run) if isinstance(a, str) else a for a in abis]
    result_scan = scanned or scan(source, callers=False, backends=backends, jobs=jobs, progress=progress)
    result, notes = check_tree(source, result_scan.inventory, loaded, trace_glue, precise, config,
                               result_scan.version)
    return Checked(result_scan, result, tuple(notes))


def review(tree: str | os.PathLike[str] | Source, patches: Sequence[Patch] | bytes, abis: Sequence[str | Abi] = (),
           *, name: str = "patch", backends: BackendMap | None = None, jobs: int | None = None,
           progress: Progress = NONE, run: Run | None = None) -> SeriesReview:
    """What the patches (parsed, or a patch's or a series' bytes) change in the tree's pv_ops
    interface, each applied on the ones before it; with abis, the new findings of each ABI.
    A checkout opened with remembered_search is reviewed on its last search, then checked."""
    from pvscan.abi import load_abi
    from pvscan.review.patch import read_patch_bytes
    from pvscan.review.review import review_series

    source = open_tree(tree, run)
    loaded = [load_abi(a, source.run) if isinstance(a, str) else a for a in abis]
    parsed = read_patch_bytes(patches, name) if isinstance(patches, bytes) else list(patches)
    backends = backends or backend_map(run=source.run)
    series = review_series(source, parsed, loaded, backends, name, jobs=jobs, progress=progress)
    if hasattr(source, "search_stands") and not source.search_stands():
        series = review_series(source, parsed, loaded, backends, name, jobs=jobs, progress=progress)
    return series
