"""pvscan report PATH [--abi ...] -o report.html: the evidence as one HTML page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sys

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError
from pvscan.commands.scanning import scan_with_options
from pvscan.talk import Talk

if TYPE_CHECKING:
    from argparse import Namespace
    from pvscan.run import Run
    from pvscan.source import Source


def main(args: Namespace, run: Run) -> int:
    from pvscan.abi import load_abi
    from pvscan import api
    from pvscan.checks.rules import all_rules
    from pvscan.inventory.summary import summarize
    from pvscan.report import ReportDocument, document_renderer
    from pvscan.source.directory import KernelTree
    from pvscan.source.snippets import collect, op_locations

    if args.source_url and ("{path}" not in args.source_url):
        raise PvscanError("--source-url needs a {path} (and may have a {line}) placeholder")
    tree = KernelTree(args.tree, run)
    if args.output is None and sys.stdout is not None and sys.stdout.isatty():
        # A page of HTML is no answer on a terminal: it goes to a file the message names.
        args.output = _report_path(tree)
    refuse_writes_into([tree], args.output)
    abis = [load_abi(a, run) for a in args.abi]
    talk = Talk.of(args)
    talk.abis(abis)
    result = scan_with_options(args, tree)
    talk.scanned(result)
    checked = None
    if abis:
        found = api.check(tree, abis, scanned=result)
        checked, notes = found.result, found.notes
        for note in notes:
            talk.note(note)
    snippets = collect(tree, [loc for o in result.inventory.ops for loc in op_locations(o)])
    history = _read_history(args.history) if args.history else None
    doc = ReportDocument(result, summarize(result.inventory), checked, snippets, rules=tuple(all_rules()),
                         source_url=args.source_url, history=history)
    html = document_renderer("report", "html")(doc)
    talk.warnings(result.warnings)
    write_output(html, args.output)
    if args.output not in (None, "-") and sys.stdout is not None and sys.stdout.isatty():
        print(f"pvscan: wrote the report to {args.output}; open it in a browser", file=sys.stderr)
    return 0


def _report_path(tree: Source) -> str:
    """Where a report asked for on a terminal goes: pvscan-report.html in the current directory,
    or in the temporary directory when the current one is inside the tree (never written)."""
    import os
    import tempfile

    here = os.path.realpath(os.getcwd()) if os.path.isdir(".") else None
    folder = here if here is not None and not tree.contains(here) else tempfile.gettempdir()
    return os.path.join(folder, "pvscan-report.html")


def _read_history(path: str) -> dict:
    """A 'pvscan history --format json' document, checked for the fields the timeline draws."""
    import json

    from pvscan.source.files import read_input

    try:
        doc = json.loads(read_input(path, "the history").decode("utf-8"))
    except UnicodeDecodeError:
        raise PvscanError("not UTF-8 text", path) from None
    except json.JSONDecodeError as e:
        raise PvscanError(f"not JSON: {e.msg}", path, e.lineno) from None
    except RecursionError:
        raise PvscanError("not JSON pvscan would write: nested too deep", path) from None
    except ValueError:          # Python's 4,300-digit bound on an integer
        raise PvscanError("not JSON pvscan would write: an integer of more than 4300 digits", path) from None
    if not isinstance(doc, dict) or doc.get("schema") != "pvscan-history/1":
        raise PvscanError("not the output of 'pvscan history --format json' (schema pvscan-history/1)", path)
    revisions, abis = doc.get("revisions"), doc.get("abis")
    if not (isinstance(revisions, list) and all(
            isinstance(r, dict) and isinstance(r.get("label"), str) and _count(r.get("ops")) for r in revisions)):
        raise PvscanError("history 'revisions' must be a list of {label, ops}", path)
    if not (isinstance(abis, list) and all(
            isinstance(p, dict) and all(isinstance(p.get(k), str) for k in ("abi", "from", "to"))
            and _count(p.get("interface_changes")) and isinstance(p.get("needing"), list) for p in abis)):
        raise PvscanError("history 'abis' must be a list of {abi, from, to, interface_changes, needing}", path)
    for p in abis:
        counts, verdicts = p.get("verdict_counts", {}), p.get("verdicts", [])
        if not (isinstance(counts, dict) and all(isinstance(k, str) and _count(v) for k, v in counts.items())
                and isinstance(verdicts, list) and all(isinstance(v, dict) for v in verdicts)):
            raise PvscanError("history 'verdict_counts' must map verdicts to counts, and 'verdicts' be a list "
                              "of {op, change, verdict, evidence}", path)
    return doc


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32
