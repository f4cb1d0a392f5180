"""Baselines: the findings a project has accepted, by fingerprint, so that CI flags only new ones."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pvscan.errors import PvscanError
from pvscan.source.files import read_input

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pvscan.findings import Finding

SCHEMA = "pvscan-baseline/1"


def baseline_text(findings: Iterable[Finding]) -> str:
    entries = sorted({(f.fingerprint, f.code, f.abi, f.op, f.file) for f in findings})
    doc = {"schema": SCHEMA, "findings": [
        {"fingerprint": fp, "code": code, "abi": abi, "op": op, "file": file}
        for fp, code, abi, op, file in entries]}
    return json.dumps(doc, indent=2) + "\n"


def read_baseline(path: str) -> set[str]:
    try:
        text = read_input(path, "baseline").decode("utf-8")
    except UnicodeDecodeError:
        raise PvscanError("baseline is not UTF-8 text", path) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise PvscanError(f"baseline is not JSON: {e.msg}", path, e.lineno) from None
    except (ValueError, RecursionError):
        # a number of thousands of digits, or arrays nested thousands deep: not ours
        raise PvscanError("not a pvscan baseline: numbers too long or nesting too deep", path) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("findings"), list):
        raise PvscanError(f"not a pvscan baseline (expected schema {SCHEMA!r}; write one with --write-baseline)",
                          path)
    out = set()
    for entry in doc["findings"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise PvscanError("baseline entry without a fingerprint", path)
        out.add(entry["fingerprint"])
    return out
