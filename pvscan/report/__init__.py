"""Reporters: they format a result and compute nothing.

Every output format is one module with a render(result, options) function,
registered here by its --format name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScanOptions:
    op: str | None = None          # show one op in full
    arch: str | None = None
    list_callers: bool = False
    snippets: dict | None = None   # (file, line) -> Snippet, for the op shown in full
    color: bool = False


def scan_formats():
    from pvscan.report import scan_json, scan_text

    return {"text": scan_text.render, "json": scan_json.render}


SCAN_FORMAT_NAMES = ("text", "json")
