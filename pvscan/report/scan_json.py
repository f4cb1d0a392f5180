"""The scan inventory as JSON: schema 'pvscan-scan/1', documented in docs/scan-json.md."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pvscan import __version__
from pvscan.naming import in_arch

if TYPE_CHECKING:
    from pvscan.inventory.model import Op, Table
    from pvscan.pipeline import ScanResult
    from pvscan.report import ScanDocument

SCHEMA = "pvscan-scan/1"


def render(doc: ScanDocument) -> str:
    result = doc.result
    inv = result.inventory
    ops = [o for o in inv.ops if _selected(o, doc)]
    document = {
        "schema": SCHEMA,
        "pvscan": __version__,
        "kernel": {"version": str(result.version)},
        "generations": [{"arch": g.arch, "generation": g.name, "tables": list(g.tables),
                         "call_forms": list(g.call_forms), "static_calls": list(g.static_calls),
                         "describe": g.describe()}
                        for g in inv.generations if in_arch(doc.arch, g.arch)],
        "tables": [_table(t) for t in inv.tables if in_arch(doc.arch, t.arch)],
        "backends": [
            {"arch": arch, "name": name, "files": list(files)}
            for (arch, name), files in sorted(inv.backends.items())
            if in_arch(doc.arch, arch)
        ],
        "ops": [_op(o, result, doc) for o in ops],
        "warnings": [{"file": w.path, "line": w.line or None, "message": w.message}
                     for w in result.warnings],
    }
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _selected(op: Op, doc: ScanDocument) -> bool:
    return in_arch(doc.arch, op.arch) and (doc.op in (None, op.name))


def _table(t: Table) -> dict[str, str | dict[str, str | int] | list[str] | int | None]:
    return {"name": t.name, "type": t.type, "arch": t.arch, "generation": t.generation,
            "location": {"file": t.file, "line": t.line}, "guard": t.guard,
            "groups": list(t.groups), "ops": t.ops, "definition": t.definition}


def _op(o: Op, result: ScanResult, doc: ScanDocument) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": o.name,
        "arch": o.arch,
        "table": o.table,
        "group": o.group,
        "return_type": o.return_type,
        "params": None if o.params is None else [{"type": p.type or None, "name": p.name} for p in o.params],
        "convention": o.convention,
        "signature_source": o.signature_source,
        "guard": o.guard,
        "location": {"file": o.file, "line": o.line},
        "comment": o.comment,
        "variants": [{"guard": v.guard, "return_type": v.return_type,
                      "params": None if v.params is None else [{"type": p.type or None, "name": p.name}
                                                               for p in v.params],
                      "line": v.line} for v in o.variants],
        "call_sites": [
            {"file": c.file, "line": c.line, "kind": c.kind, "arity": c.arity,
             "return_type": c.return_type,
             "alt": None if c.alt_condition is None else {"replacement": c.alt_replacement,
                                                         "condition": c.alt_condition},
             "function": c.function, "guard": c.guard}
            for c in o.call_sites
        ],
        "wrappers": [
            {"name": w.name, "kind": w.kind, "file": w.file, "line": w.line, "callers": w.callers}
            for w in o.wrappers
        ],
        "callers": o.callers,
        "implementations": [
            {"backend": i.backend, "file": i.file, "line": i.line, "function": i.function,
             "via": i.via, "wrapped_by": list(i.wrapped_by), "guard": i.guard}
            for i in o.implementations
        ],
        "cleared_by": [{"backend": c.backend, "file": c.file, "line": c.line, "source": c.source}
                       for c in o.cleared_by],
        "leaves_native": list(o.leaves_native),
    }
    if doc.list_callers:
        for w, wj in zip(o.wrappers, out["wrappers"]):
            wj["caller_sites"] = [
                {"file": c.path, "line": c.line, "function": c.function}
                for c in result.callers.get((o.arch, w.name), ())
            ]
    return out
