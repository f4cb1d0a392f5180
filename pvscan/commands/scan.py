"""pvscan scan PATH: the operation inventory."""

from __future__ import annotations

import difflib
import sys

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, print_warnings
from pvscan.inventory.backends import build_backend_map
from pvscan.pipeline import scan
from pvscan.progress import Progress
from pvscan.report import ScanDocument, document_renderer
from pvscan.source.directory import KernelTree


def run(args) -> int:
    backend_map = build_backend_map(args.backend_map, args.backend)
    # Checked before the scan, so that a refused path costs nothing.
    tree = KernelTree(args.tree)
    refuse_writes_into([tree], args.output)
    line = Progress.for_terminal(args.progress)
    try:
        result = scan(tree, backend_map=backend_map, jobs=args.jobs, callers=not args.no_callers, progress=line)
    finally:
        line.done()
    if args.op is not None:
        names = sorted({o.name for o in result.inventory.ops if args.arch in (None, o.arch)})
        if args.op not in names:
            close = difflib.get_close_matches(args.op, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise PvscanError(f"no op named {args.op}{hint}", args.tree)
    snippets = None
    if args.op is not None and args.format == "text":
        from pvscan.source.snippets import collect, op_locations

        snippets = collect(tree, [loc for o in result.inventory.ops if o.name == args.op
                                  for loc in op_locations(o)], context=0)
    from pvscan.report.color import use_color

    color = args.output in (None, "-") and use_color(args.color)
    from pvscan.inventory.summary import summarize

    doc = ScanDocument(result, summarize(result.inventory, args.arch), op=args.op, arch=args.arch,
                       list_callers=args.callers, snippets=snippets, color=color)
    text = document_renderer("scan", args.format)(doc)
    print_warnings(result.warnings, sys.stderr)
    write_output(text, args.output)
    return 0
