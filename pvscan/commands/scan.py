"""pvscan scan PATH: the operation inventory."""

from __future__ import annotations

import difflib
import io
import sys
from typing import TYPE_CHECKING

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, print_warnings
from pvscan.naming import in_arch
from pvscan.source.directory import KernelTree
from pvscan.talk import Talk

if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Iterable

    from pvscan.inventory.model import Op
    from pvscan.run import Run


# Options that change where or how fast the output is made, not what it says.
_NOT_IN_OUTPUT = ("func", "jobs", "progress", "output", "debug", "color")


def main(args: Namespace, run: Run) -> int:
    from pvscan.report.color import use_color

    # Checked before the scan, so that a refused path costs nothing.
    tree = KernelTree(args.tree, run)
    refuse_writes_into([tree], args.output)
    color = args.output in (None, "-") and use_color(args.color)
    # A checkout in a state a scan has seen: that scan's output, before anything heavy is imported.
    from pvscan.kept import KeptOutput

    kept = KeptOutput(tree, _options(args, color))
    talk = Talk.of(args)
    try:
        seen = kept.seen()
        if seen is not None:
            talk.read(f"{tree.display}: this checkout's state was scanned before; its output is the cache's")
            if not talk.quiet:
                sys.stderr.write(seen[1])
            write_output(seen[0], args.output)
            return 0
        text, warnings, blind = _scan(args, tree, color)
    finally:
        kept.forget_status()
    # A scan without callers asks for no wrapper names, which any remembered search covers.
    kept.keep(text, warnings, wanted_wrappers=not args.no_callers, blind=blind)
    if not talk.quiet:
        sys.stderr.write(warnings)
    write_output(text, args.output)
    return 1 if blind else 0


def _in_this_tree(name: str, ops: Iterable[Op], arch: str | None) -> str | None:
    """The tree's own name for an op named as another generation named it ('pv_mmu_ops.set_pte'
    is 6.12's 'mmu.set_pte', 'time.steal_clock' its static call 'pv_steal_clock'), when exactly
    one op answers to it."""
    from pvscan.identity import OpIndex, ops_for_arch

    found = set()
    for a in sorted({o.arch for o in ops if in_arch(arch, o.arch) and o.arch != "generic"}):
        op, _how = OpIndex(ops_for_arch(ops, a)).find(name)
        if op is not None:
            found.add(op.name)
    return found.pop() if len(found) == 1 else None


def _options(args: Namespace, color: bool) -> str:
    """The options that shape the output, with the backend map file's bytes."""
    from pvscan.source.checkout import file_digest

    fields = sorted((k, str(v)) for k, v in vars(args).items() if k not in _NOT_IN_OUTPUT)
    mapped = file_digest(args.backend_map).decode() if args.backend_map else ""
    return repr((fields, color, mapped))


def _scan(args: Namespace, tree: KernelTree, color: bool) -> tuple[str, str, bool]:
    """(the output, the warnings said on stderr, whether it met what it could not place) of a scan."""
    from pvscan import api
    from pvscan.progress import Progress
    from pvscan.report import ScanDocument, document_renderer

    backends = api.backend_map(args.backend_map, args.backend, tree.run)
    line = Progress.for_terminal(args.progress)
    try:
        result = api.scan(tree, callers=not args.no_callers, backends=backends, jobs=args.jobs, progress=line)
    finally:
        line.done()
    Talk.of(args).scanned(result)
    if args.op is not None:
        names = sorted({o.name for o in result.inventory.ops if in_arch(args.arch, o.arch)})
        if args.op not in names:
            # Op names are lower case in every generation: 'MMU.SET_PTE' means mmu.set_pte.
            found = next((n for n in names if n.lower() == args.op.lower()), None) \
                or _in_this_tree(args.op, result.inventory.ops, args.arch) \
                or _in_this_tree(args.op.lower(), result.inventory.ops, args.arch)
            if found is None:
                close = difflib.get_close_matches(args.op.lower(), names, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise PvscanError(f"no op named {args.op}{hint}", args.tree)
            Talk.of(args).note(f"note: {args.op} is {found} in this tree")
            args.op = found
    snippets = None
    if args.op is not None and args.format == "text":
        from pvscan.source.snippets import collect, op_locations

        snippets = collect(tree, [loc for o in result.inventory.ops if o.name == args.op
                                  for loc in op_locations(o)], context=0)
    from pvscan.inventory.summary import summarize

    doc = ScanDocument(result, summarize(result.inventory, args.arch), op=args.op, arch=args.arch,
                       list_callers=args.callers, snippets=snippets, color=color)
    said = io.StringIO()
    print_warnings(result.warnings, said)
    return document_renderer("scan", args.format)(doc), said.getvalue(), bool(result.inventory.blind)
