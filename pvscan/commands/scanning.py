"""The scan a command runs on its tree, with the options every such command shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argparse import Namespace

    from pvscan.pipeline import ScanResult
    from pvscan.source import Source


def scan_with_options(args: Namespace, tree: Source) -> ScanResult:
    """pipeline.scan of tree without the callers' search, as -j, --progress, --backend and
    --backend-map ask; the progress line is cleared however the scan ends."""
    from pvscan import api
    from pvscan.progress import Progress

    line = Progress.for_terminal(args.progress)
    try:
        return api.scan(tree, callers=False, backends=api.backend_map(args.backend_map, args.backend, tree.run),
                        jobs=args.jobs, progress=line)
    finally:
        line.done()
