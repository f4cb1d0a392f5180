"""History formats: text for people, JSON (pvscan-history/1) and CSV (one row per op per revision).

Each renders a history.lineage.HistoryDocument.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

from pvscan import __version__

if TYPE_CHECKING:
    from pvscan.history.lineage import AbiPair, HistoryDocument
    from pvscan.history.run import RevisionSummary


def _label(summaries: tuple[RevisionSummary, RevisionSummary, RevisionSummary], i: int) -> str:
    return summaries[i].label


def _classes(p: AbiPair) -> str:
    return ", ".join(f"{n} {v}" for v, n in p.counts().items())


# A verdict that asks something of the ABI in an error's colour, one nobody could judge in a warning's.
_VERDICT_SEVERITY = {"needs-abi": "error", "unknown": "warning"}


def _verdict(h: HistoryDocument, verdict: str, width: int = 10) -> str:
    shown = f"{verdict:<{width}}"
    if h.color and verdict in _VERDICT_SEVERITY:
        from pvscan.report.color import paint

        return paint(verdict, _VERDICT_SEVERITY[verdict]) + shown[len(verdict):]
    return shown


def text(h: HistoryDocument) -> str:
    """The history as text: the verdicts first, then each step's changes, then each op's span."""
    s = h.summaries
    out = [f"History of {len(s)} revision(s): " + ", ".join(x.label for x in s) + "\n"]
    out += [f"  {x.label}: {x.warning}\n" for x in s if x.warning]
    # The answer first: per ABI, what each step's interface changes asked of it.
    for p in h.pairs:
        out.append(f"  ABI {p.abi}, {_label(s, p.before)} -> {_label(s, p.after)}: {p.changes} interface "
                   f"change(s): {_classes(p)}\n")
        out += [f"    {_verdict(h, 'needs-abi')} {ident} ({kinds}): {evidence}\n"
                for ident, kinds, verdict, evidence in p.verdicts if verdict == "needs-abi"]
    indices = [i for i, x in enumerate(s) if x.ops]
    for a, b in zip(indices, indices[1:]):
        out += _step_text(h, a, b)
    out.append("\nOps\n")
    for lin in h.lineages:
        first, last = min(lin.states), max(lin.states)
        names = sorted({st.name for st in lin.states.values()})
        out.append(f"  {lin.identity:<44} {_label(s, first)} .. {_label(s, last)}"
                   + (f"  (also {', '.join(n for n in names if not lin.identity.endswith(':' + n))})"
                      if len(names) > 1 else "") + "\n")
    return "".join(out)


def _step_text(h: HistoryDocument, a: int, b: int) -> list[str]:
    """The lines of one step, revision a to b: its op changes, area changes and verdicts."""
    s = h.summaries
    out = [f"\n{_label(s, a)} -> {_label(s, b)}\n"]
    rows = sorted((e.kind, lin.identity, e) for lin in h.lineages for e in h.events[lin.identity]
                  if e.revision == b)
    out += [f"  {kind:<10} {ident:<44} {e.detail}  {e.file}:{e.line}\n" for kind, ident, e in rows]
    if not rows:
        out.append("  no change to the ops\n")
    out += [f"  {'area':<10} {abi + ':' + area:<44} {detail}\n"
            for rev, abi, area, detail in h.area_changes if rev == b]
    for p in h.pairs:
        if (p.before, p.after) != (a, b):
            continue
        out.append(f"  ABI {p.abi}: {p.changes} interface change(s): {_classes(p)}\n")
        out += [f"    {_verdict(h, verdict)} {ident} ({kinds}): {evidence}\n"
                for ident, kinds, verdict, evidence in p.verdicts]
    return out


def to_json(h: HistoryDocument) -> str:
    s = h.summaries
    doc = {
        "schema": "pvscan-history/1",
        "pvscan": __version__,
        "revisions": [{"label": x.label, "commit": x.commit, "version": x.version, "ops": len(x.ops),
                       "warning": x.warning, "abi_config": list(x.config_notes)} for x in s],
        "ops": [{
            "identity": lin.identity,
            "arch": lin.arch,
            "first": _label(s, min(lin.states)),
            "last": _label(s, max(lin.states)),
            "names": [{"revision": _label(s, i), "name": st.name, "matched_by": lin.matched.get(i)}
                      for i, st in sorted(lin.states.items())],
            "events": [{"revision": _label(s, e.revision), "kind": e.kind, "detail": e.detail,
                        "file": e.file, "line": e.line} for e in h.events[lin.identity]],
        } for lin in h.lineages],
        "area_changes": [{"revision": _label(s, rev), "abi": abi, "area": area, "detail": detail}
                         for rev, abi, area, detail in h.area_changes],
        "abis": [{"abi": p.abi, "from": _label(s, p.before), "to": _label(s, p.after),
                  "interface_changes": p.changes,
                  "verdict_counts": p.counts(),
                  "verdicts": [{"op": ident, "change": kinds, "verdict": verdict, "evidence": evidence}
                               for ident, kinds, verdict, evidence in p.verdicts],
                  "needing": [{"op": ident, "change": kind, "code": code, "message": message}
                              for ident, kind, code, message in p.needing]} for p in h.pairs],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_csv(h: HistoryDocument) -> str:
    s = h.summaries
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["revision", "version", "identity", "arch", "name", "table", "group", "signature",
                     "convention", "guard", "backends", "file", "line"])
    for lin in h.lineages:
        for i, st in sorted(lin.states.items()):
            writer.writerow([s[i].label, s[i].version, lin.identity, st.arch, st.name, st.table, st.group,
                             st.signature or "", st.convention, st.guard or "", " ".join(st.backends),
                             st.file, st.line])
    return buf.getvalue()

