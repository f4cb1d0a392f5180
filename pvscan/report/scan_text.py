"""The scan inventory for a terminal: summary per table, group and backend, then the ops."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.errors import printable
from pvscan.naming import in_arch

if TYPE_CHECKING:
    from pvscan.facts.model import Param
    from pvscan.inventory.model import Op, Variant
    from pvscan.pipeline import ScanResult
    from pvscan.report import ScanDocument


def render(doc: ScanDocument) -> str:
    result, summary = doc.result, doc.summary
    inv = result.inventory
    if doc.op is not None:
        return "".join(_op_in_full(o, result, doc) for o in inv.ops
                       if o.name == doc.op and in_arch(doc.arch, o.arch))
    out: list[str] = []
    w = _Writer(out)
    ops = [o for o in inv.ops if in_arch(doc.arch, o.arch)]
    statics = f" and {summary.static_calls} static call(s)" if summary.static_calls else ""
    w(f"Linux {result.version}: {summary.ops - summary.static_calls} paravirt ops in {summary.tables} table(s)"
      f"{statics}\n")
    for g in inv.generations:
        if in_arch(doc.arch, g.arch):
            w(f"  {g.arch:<6} {g.name}: {g.describe()}\n")
    w("\nTables\n")
    for t in inv.tables:
        if doc.arch not in (None, t.arch):
            continue
        what = f"{t.ops} ops" + (f" in {', '.join(t.groups)}" if t.groups and t.groups != (t.name,) else "")
        if not t.ops:
            what = "no ops (data only)"
        w(f"  {t.arch:<6} {t.name:<18} struct {t.type:<26} {t.generation:<8} {what:<40} "
          f"{t.file}:{t.line}\n")

    w("\nGroups                 ops  call sites  wrappers  callers\n")
    for (arch, group), g in sorted(summary.by_group().items()):
        callers = "?" if g.callers is None else g.callers
        w(f"  {arch:<6} {group:<14} {g.ops:>4}  {g.call_sites:>10}  {g.wrappers:>8}  {callers:>7}\n")

    w("\nBackends               implements  clears  files\n")
    for b in summary.backends:
        files = b.files
        shown = ", ".join(files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
        w(f"  {b.arch:<6} {b.backend:<14} {b.implements:>10}  {b.clears:>6}  {shown}\n")

    w("\nOps\n")
    for o in ops:
        backends = " ".join(b for b in o.backends) or "-"
        cleared = "".join(f" !{c}" for c in sorted({c.backend for c in o.cleared_by}))
        conv = {"callee_save": " [callee-save]", "static_call": " [static call]"}.get(o.convention, "")
        guard = f"  if {o.guard}" if o.guard else ""
        callers = "?" if o.callers is None else o.callers
        w(f"  {o.arch:<6} {o.name:<40} {_signature(o)}{conv}\n")
        w(f"         sites {len(o.call_sites)}, callers {callers}, backends: {backends}{cleared}{guard}\n")
    _warnings_summary(result, w)
    return "".join(out)



_CONVENTIONS = {"callee_save": "callee-save (struct paravirt_callee_save)",
                "static_call": "static call (DEFINE_STATIC_CALL; backends install with static_call_update)"}


def _signature(o: Op | Variant) -> str:
    if o.params is None:
        return f"{o.return_type or '?'} (?)"
    params = ", ".join(_param(p) for p in o.params) or "void"
    return f"{o.return_type} ({params})"


def _param(p: Param) -> str:
    ctype = p.type or "?"
    if not p.name:
        return ctype
    return f"{ctype}{p.name}" if ctype.endswith("*") else f"{ctype} {p.name}"


class _Writer:
    """out.append for the lines that carry names from the tree (files, ops, functions), each
    call one line after any blank lines: a control character in a name is shown escaped, so no
    file name can move a terminal's cursor or start a line of its own. raw() appends what
    pvscan coloured itself."""

    def __init__(self, out: list[str]) -> None:
        self.raw = out.append

    def __call__(self, text: str) -> None:
        # Each call writes one line, after blank lines of its own: a newline elsewhere came
        # from a name, and is escaped with the rest.
        body = text.lstrip("\n")
        end = "\n" if body.endswith("\n") else ""
        body = body[:len(body) - len(end)]
        self.raw(text[:len(text) - len(text.lstrip("\n"))] + printable(body, keep_tab=True) + end)


def _source(doc: ScanDocument, file: str, line: int, w: _Writer) -> None:
    """The source line of a location, highlighted on a colour terminal."""
    snip = (doc.snippets or {}).get((file, line))
    if snip is None:
        return
    text = printable(snip.text.split("\n")[snip.focus - snip.first], keep_tab=True)
    if doc.color:
        from pvscan.report.color import highlight_c

        text = highlight_c(text)
    w.raw(f"        | {text}\n")


def _call_sites_in_full(o: Op, doc: ScanDocument, w: _Writer) -> None:
    w(f"\n  call sites ({len(o.call_sites)})\n")
    for c in o.call_sites:
        extra = ""
        if c.return_type:
            extra += f" returns {c.return_type}"
        if c.alt_condition:
            extra += f"; ALT {c.alt_replacement} if {c.alt_condition}"
        where = f" in {c.function}()" if c.function_kind == "function" else (f" in macro {c.function}" if c.function else "")
        w(f"    {c.file}:{c.line}: {c.kind}{where}{extra}\n")
        _source(doc, c.file, c.line, w)


def _wrappers_in_full(o: Op, result: ScanResult, doc: ScanDocument, w: _Writer) -> None:
    w(f"\n  wrappers ({len(o.wrappers)})\n")
    for wr in o.wrappers:
        callers = "?" if wr.callers is None else wr.callers
        noun = "caller" if callers == 1 else "callers"
        w(f"    {wr.name} ({wr.kind}) {wr.file}:{wr.line}: {callers} {noun}\n")
        if doc.list_callers:
            for c in result.callers.get((o.arch, wr.name), ()):
                w(f"      {c.path}:{c.line}" + (f" in {c.function}()" if c.function else "") + "\n")


def _op_in_full(o: Op, result: ScanResult, doc: ScanDocument) -> str:
    out: list[str] = []
    w = _Writer(out)
    w(f"{o.name}  ({o.arch}, table {o.table}, group {o.group})\n")
    w(f"  signature   {_signature(o)}" + (f"   [from {o.signature_source}]" if o.signature_source else "") + "\n")
    w(f"  convention  {_CONVENTIONS.get(o.convention, 'plain function pointer')}\n")
    w(f"  guard       {o.guard or '(unconditional)'}\n")
    for v in o.variants:
        w(f"  variant     {_signature(v)}  if {v.guard or '(unconditional)'}  ({o.file}:{v.line})\n")
    w(f"  declared    {o.file}:{o.line}\n")
    _source(doc, o.file, o.line, w)
    if o.comment:
        w(f"  comment     {o.comment}\n")
    _call_sites_in_full(o, doc, w)
    _wrappers_in_full(o, result, doc, w)
    cleared = f", {len(o.cleared_by)} NULL" if o.cleared_by else ""
    w(f"\n  implementations ({len(o.implementations)}{cleared})\n")
    for i in o.implementations:
        wrapped = f" via {' > '.join(i.wrapped_by)}" if i.wrapped_by else ""
        guard = f"  if {i.guard}" if i.guard else ""
        w(f"    {i.backend:<10} {i.function}{wrapped}  ({i.via}) {i.file}:{i.line}{guard}\n")
        _source(doc, i.file, i.line, w)
    for c in o.cleared_by:
        w(f"    {c.backend:<10} NULL: whole group copied from {c.source}, which does not set it  {c.file}:{c.line}\n")
    if o.leaves_native:
        w(f"  leave the native default: {', '.join(o.leaves_native)}\n")
    w("\n")
    return "".join(out)


def _warnings_summary(result: ScanResult, w: _Writer) -> None:
    if result.warnings:
        w(f"\n{len(result.warnings)} warning(s); run with --format json or see stderr for each.\n")
