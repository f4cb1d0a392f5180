"""Reporters: they format what the stages computed, and compute nothing.

Two protocols, each with a registry keyed by --format name:

* a finding stream (FindingReporter, as flake8's formatters) for `check`
  and every `review` format:

      reporter = finding_reporter("review", "sarif")(run)
      reporter.start()
      for patch in patches:               # check: one batch, patch None
          reporter.beginning(patch)
          for f in findings: reporter.handle(f)
          reporter.finished(patch)
      text = reporter.stop()

* a document renderer, render(document) -> str, for `scan`, `history` and
  the HTML `report`, fed a document dataclass whose sums the stages made.

The registries name modules as text, so that building the command line
(whose --format choices come from here) imports no reporter.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pvscan.checks.check import CheckResult
    from pvscan.findings import Finding
    from pvscan.inventory.summary import InventorySummary
    from pvscan.pipeline import ScanResult
    from pvscan.review.review import PatchReview
    from pvscan.source.snippets import Snippet


FINDING_FORMATS = {
    "check": {"text": "pvscan.report.findings:TextReporter",
              "json": "pvscan.report.findings:JsonReporter",
              "sarif": "pvscan.report.findings:SarifReporter"},
    "review": {"text": "pvscan.report.review:TextReview",
               "checkpatch": "pvscan.report.review:CheckpatchReview",
               "github": "pvscan.report.review:GithubReview",
               "sarif": "pvscan.report.review:SarifReview",
               "gitlab": "pvscan.report.review:GitlabReview",
               "rdjson": "pvscan.report.review:RdjsonReview",
               "patchwork": "pvscan.report.review:PatchworkReview",
               "reply": "pvscan.report.review:ReplyReview"},
}
DOCUMENT_FORMATS = {
    "scan": {"text": "pvscan.report.scan_text:render", "json": "pvscan.report.scan_json:render"},
    "history": {"text": "pvscan.report.history:text", "json": "pvscan.report.history:to_json",
                "csv": "pvscan.report.history:to_csv"},
    "report": {"html": "pvscan.report.html:render"},
}


def format_names(command: str) -> tuple[str, ...]:
    """The --format choices of a command, its default first."""
    return tuple((FINDING_FORMATS.get(command) or DOCUMENT_FORMATS[command]).keys())


def finding_reporter(command: str, name: str) -> Any:
    return _load(FINDING_FORMATS[command][name])


def document_renderer(command: str, name: str) -> Callable:
    return _load(DOCUMENT_FORMATS[command][name])


def _load(where: str) -> Any:
    module, _, attr = where.partition(":")
    return getattr(importlib.import_module(module), attr)


# What a reporter is given besides the findings: a CheckRun, a ReviewRun, or either for a format both share;
# and the batch its findings come in: None for check, a PatchReview per patch for review.
RunT = TypeVar("RunT", "CheckRun", "ReviewRun", "CheckRun | ReviewRun")
PatchT = TypeVar("PatchT")


class FindingReporter(Generic[RunT, PatchT]):
    """start(); for each batch beginning(patch), handle(finding)..., finished(patch); stop() -> the output.

    run is what the whole output needs besides the findings (rules, ABIs,
    sums, patches); patch is None for check, a PatchReview for review.
    """

    def __init__(self, run: RunT) -> None:
        self.run: RunT = run
        self.out: list[str] = []

    def start(self) -> None:
        pass

    def beginning(self, patch: PatchT) -> None:
        pass

    def handle(self, finding: Finding) -> None:
        pass

    def finished(self, patch: PatchT) -> None:
        pass

    def stop(self) -> str:
        return "".join(self.out)


def report_findings(reporter: FindingReporter[Any, PatchT], batches: Iterable[tuple[PatchT, Iterable[Finding]]]) -> str:
    """Drive a reporter over [(patch, findings)]: the one place that knows the protocol's order."""
    reporter.start()
    for patch, findings in batches:
        reporter.beginning(patch)
        for f in findings:
            reporter.handle(f)
        reporter.finished(patch)
    return reporter.stop()


@dataclass(frozen=True)
class ScanDocument:
    """What `pvscan scan` prints: the result, its sums, and what the user asked to see."""

    result: ScanResult
    summary: InventorySummary    # for arch
    op: str | None = None        # show one op in full
    arch: str | None = None
    list_callers: bool = False
    snippets: dict[tuple[str, int], Snippet] | None = None   # for the op shown in full
    color: bool = False


@dataclass(frozen=True)
class ReportDocument:
    """What `pvscan report` writes: the scan, its sums, the checks, code snippets, links and history."""

    scan: ScanResult
    summary: InventorySummary
    check: CheckResult | None    # with --abi
    snippets: dict[tuple[str, int], Snippet]
    rules: tuple = ()            # the checks, for their docs beside each finding
    source_url: str | None = None
    history: dict | None = None  # a 'pvscan history --format json' document


@dataclass(frozen=True)
class CheckRun:
    """What a check reporter needs besides the findings."""

    version: str                 # the kernel's
    rules: tuple                 # every check, for SARIF's rule list
    abis: tuple                  # the Abi objects, in the order given
    coverage: dict               # abi -> {group -> {kind: count}}
    counts: dict                 # severity -> findings reported
    suppressed: int = 0          # findings the baseline holds
    snippets: dict[tuple[str, int], Snippet] | None = None   # to show each finding's line in colour
    color: bool = False          # severities and code in colour (a terminal)
    verdict: str = ""            # the line to act on (findings.verdict), last in the text


@dataclass(frozen=True)
class ReviewRun:
    """What a review reporter needs besides the findings: every patch (with its summary) and the rules."""

    reviews: tuple[PatchReview, ...]   # in mbox order
    rules: tuple                 # checks and change kinds, for SARIF's rule list
    color: bool = False          # severities in colour (a terminal)
    verdict: str = ""            # the line to act on (findings.verdict), last in the text
    summary_lines: bool = True   # checkpatch's 'total:' line per patch (--no-summary: none)
    whole: PatchReview | None = None   # a series as a whole (more than one patch)


def shown_path(path: str | None) -> str | None:
    """A file as people read it: a bundled ABI is 'xen-pv (bundled)'. The machine formats keep
    '<bundled>/xen-pv.toml' (docs/check-json.md)."""
    if path and path.startswith("<bundled>/") and path.endswith(".toml"):
        return f"{path[len('<bundled>/'):-len('.toml')]} (bundled)"
    return path
