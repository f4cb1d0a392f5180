"""The check formats: finding streams (pvscan.report.FindingReporter) over a CheckRun.

They format only; every number they print comes from the run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from pvscan import __version__
from pvscan.errors import format_location, printable
from pvscan.findings import Finding, by_severity, unique_fingerprints
from pvscan.report import CheckRun, FindingReporter, ReviewRun, shown_path

if TYPE_CHECKING:
    from typing import Any

    from pvscan.review.review import PatchReview  # noqa: F401 - in a string: the base of SarifReporter
    from pvscan.rule import Rule


class TextReporter(FindingReporter[CheckRun, None]):
    """gcc/checkpatch style: 'file:line: severity: PVnnn message', errors first, then the
    coverage and the verdict: the counts and what to do next."""

    def start(self) -> None:
        self.findings: list[Finding] = []

    def handle(self, finding: Finding) -> None:
        self.findings.append(finding)

    def _finding(self, finding: Finding) -> None:
        line = format_location(shown_path(finding.file), finding.line,
                               f"{finding.severity}: {finding.code} {finding.message}")
        if self.run.color:
            from pvscan.report.color import paint

            line = line.replace(f": {finding.severity}: ", f": {paint(finding.severity)}: ", 1)
        self.out.append(line + "\n")
        snippet = (self.run.snippets or {}).get((finding.file, finding.line))
        if snippet is not None:
            from pvscan.report.color import highlight_c

            line = printable(snippet.text.split("\n")[snippet.focus - snippet.first], keep_tab=True)
            self.out.append(f"    | {highlight_c(line)}\n")

    def stop(self) -> str:
        out = self.out
        for finding in by_severity(self.findings):
            self._finding(finding)
        if self.run.coverage:      # (none with -q: the errors and the verdict)
            out.append("\nCoverage             mapped  constrained  unmapped  native  trap  unsupported\n")
        for abi in self.run.abis:
            for group, c in self.run.coverage.get(abi.name, {}).items():
                out.append(f"  {abi.name:<8} {group:<11} {c['mapped']:>6}  {c['constrained']:>11}  "
                           f"{c['unmapped']:>8}  {c['native']:>6}  {c['trap']:>4}  {c['unsupported']:>11}\n")
        suppressed = self.run.suppressed
        tail = f" ({suppressed} in the baseline not shown)" if suppressed else ""
        out.append(f"\n{self.run.verdict}{tail}\n")
        return "".join(out)


class JsonReporter(FindingReporter[CheckRun, None]):
    """Schema 'pvscan-check/1' (docs/check-json.md)."""

    def start(self) -> None:
        self.findings: list[Finding] = []

    def handle(self, finding: Finding) -> None:
        self.findings.append(finding)

    def stop(self) -> str:
        doc = {
            "schema": "pvscan-check/1",
            "pvscan": __version__,
            "kernel": {"version": self.run.version},
            "abis": [{"name": a.name, "version": a.version, "file": a.path} for a in self.run.abis],
            "findings": [
                {"code": f.code, "severity": f.severity, "abi": f.abi, "op": f.op,
                 "file": f.file, "line": f.line, "message": f.message, "evidence": list(f.evidence),
                 "fingerprint": f.fingerprint}
                for f in self.findings
            ],
            "coverage": self.run.coverage,
            "summary": {**self.run.counts, "suppressed": self.run.suppressed},
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


class SarifReporter(FindingReporter[CheckRun | ReviewRun, "PatchReview | None"]):
    """SARIF 2.1.0: one run, the rules in tool.driver.rules, partialFingerprints per result."""

    LEVEL = {"error": "error", "warning": "warning", "note": "note"}

    def start(self) -> None:
        self.findings: list[Finding] = []
        # The run's property bag: review puts a series' patches and the series as a whole there.
        self.properties: dict[str, object] = {}

    def handle(self, finding: Finding) -> None:
        self.findings.append(finding)

    def stop(self) -> str:
        rules = self.run.rules
        index = {r.code: i for i, r in enumerate(rules)}
        results = []
        for f, fingerprint in zip(self.findings, unique_fingerprints(self.findings)):
            location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": _uri(f.file)},
                                             "region": {"startLine": max(1, f.line)}}}
            if f.in_tree:
                location["physicalLocation"]["artifactLocation"]["uriBaseId"] = "SRCROOT"
            entry = {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": self.LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [location],
                "partialFingerprints": {"pvscan/v2": fingerprint},
                "properties": {"abi": f.abi, "op": f.op},
            }
            if f.evidence:
                entry["relatedLocations"] = [
                    {"id": i + 1, "message": {"text": e}} for i, e in enumerate(f.evidence)]
            if f.flow:
                entry["codeFlows"] = [{"threadFlows": [{"locations": [
                    {"location": {"physicalLocation": {"artifactLocation": {"uri": _uri(file), "uriBaseId": "SRCROOT"},
                                                       "region": {"startLine": max(1, line)}},
                                  "message": {"text": text}}}
                    for file, line, text in f.flow]}]}]
            results.append(entry)
        doc = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "pvscan",
                    "version": __version__,
                    "rules": [_sarif_rule(r) for r in rules],
                }},
                "columnKind": "utf16CodeUnits",
                "results": results,
                **({"properties": self.properties} if self.properties else {}),
            }],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _sarif_rule(r: Rule) -> dict[str, object]:
    doc = r.doc()
    return {
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.summary()},
        "fullDescription": {"text": doc},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": r.severity},
    }


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/._-~")

