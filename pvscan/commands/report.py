"""pvscan report PATH [--abi ...] -o report.html: the evidence as one HTML page."""

from __future__ import annotations

import sys

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, print_warnings


def run(args) -> int:
    from pvscan.abi import load_abi
    from pvscan.checks.check import check
    from pvscan.inventory.backends import build_backend_map
    from pvscan.pipeline import scan
    from pvscan.checks.rules import all_rules
    from pvscan.inventory.summary import summarize
    from pvscan.report import ReportDocument, document_renderer
    from pvscan.source.directory import KernelTree
    from pvscan.source.snippets import collect, op_locations

    if args.source_url and ("{path}" not in args.source_url):
        raise PvscanError("--source-url needs a {path} (and may have a {line}) placeholder")
    tree = KernelTree(args.tree)
    refuse_writes_into([tree], args.output)
    abis = [load_abi(a) for a in args.abi]
    result = scan(tree, backend_map=build_backend_map(args.backend_map, args.backend), jobs=args.jobs,
                  callers=False)
    checked = check(result.inventory, abis) if abis else None
    snippets = collect(tree, [loc for o in result.inventory.ops for loc in op_locations(o)])
    history = _read_history(args.history) if args.history else None
    doc = ReportDocument(result, summarize(result.inventory), checked, snippets, rules=tuple(all_rules()),
                         source_url=args.source_url, history=history)
    html = document_renderer("report", "html")(doc)
    print_warnings(result.warnings, sys.stderr)
    write_output(html, args.output)
    return 0


def _read_history(path: str) -> dict:
    import json

    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise PvscanError(f"cannot read: {e.strerror}", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PvscanError(f"not JSON: {e}", path, getattr(e, "lineno", None)) from None
    if not isinstance(doc, dict) or doc.get("schema") != "pvscan-history/1":
        raise PvscanError("not the output of 'pvscan history --format json' (schema pvscan-history/1)", path)
    return doc
