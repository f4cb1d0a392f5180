"""pvscan check PATH --abi NAME|FILE ...: the inventory against declared hypercall ABIs."""

from __future__ import annotations

from typing import TYPE_CHECKING


from pvscan.abi import bundled_names, load_abi
from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, needs_extra
from pvscan.findings import fails_at, severity_counts, verdict
from pvscan.source.directory import KernelTree
from pvscan.commands.scanning import scan_with_options
from pvscan.talk import Talk

if TYPE_CHECKING:
    from argparse import Namespace
    from pvscan.run import Run


def main(args: Namespace, run: Run) -> int:
    from pvscan import api
    from pvscan.checks.baseline import baseline_text, read_baseline
    from pvscan.checks.rules import all_rules
    from pvscan.report import CheckRun, finding_reporter, report_findings

    if args.precise:
        needs_extra("clang.cindex", "--precise", "precise")
    if not args.abi:
        raise PvscanError(f"name at least one ABI with --abi (bundled: {', '.join(bundled_names())}, or a file)")
    abis = [load_abi(a, run) for a in args.abi]
    names = [a.name for a in abis]
    if len(set(names)) != len(names):
        raise PvscanError(f"the same ABI is named twice: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}")
    tree = KernelTree(args.tree, run)
    refuse_writes_into([tree], args.output, args.write_baseline)
    talk = Talk.of(args)
    talk.abis(abis)
    accepted = read_baseline(args.baseline) if args.baseline else set()

    result_scan = scan_with_options(args, tree)
    talk.scanned(result_scan)
    checked = api.check(tree, abis, trace_glue=args.trace_glue, precise=args.precise, config=args.config,
                        scanned=result_scan)
    result = checked.result
    for note in checked.notes:
        talk.note(note)
    findings = [f for f in result.findings if f.fingerprint not in accepted]

    from pvscan.report.color import use_color

    snippets = None
    color = args.format == "text" and args.output in (None, "-") and use_color(args.color)
    if color:
        from pvscan.source.snippets import collect

        snippets = collect(tree, [(f.file, f.line) for f in findings if f.in_tree], context=0)
    # -q in text: the errors and the verdict (the counts say what else there is).
    shown = [f for f in findings if f.severity == "error"] if talk.quiet and args.format == "text" else findings
    coverage = {} if talk.quiet and args.format == "text" else result.coverage
    # What the scan could not place (a PVOP_* use naming no op) is a warning of its own: the
    # inventory the findings come from may miss what it reaches.
    blind = args.fail_on in ("warning", "note") and bool(result_scan.inventory.blind)
    fails = blind or fails_at(args.fail_on, findings)
    check_run = CheckRun(str(result_scan.version), tuple(all_rules()), result.abis, coverage,
                         severity_counts(findings), len(result.findings) - len(findings), snippets, color,
                         verdict(severity_counts(findings), findings, args.fail_on, fails))
    text = report_findings(finding_reporter("check", args.format)(check_run), [(None, shown)])
    talk.warnings(result_scan.warnings)
    # The baseline only once the output is written: a run that fails records nothing.
    write_output(text, args.output)
    if args.write_baseline:
        write_output(baseline_text(result.findings), args.write_baseline)
    return 1 if fails else 0
