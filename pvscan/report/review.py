"""Review output formats: finding streams (pvscan.report.FindingReporter) over a ReviewRun.

The stream gives each patch in mbox order: beginning(patch), its findings,
finished(patch). Escaping lives here, in the format that needs it: GitHub
workflow commands percent-encode, the JSON formats go through json.dumps,
the reply quotes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pvscan import __version__
from pvscan.errors import format_location, printable
from pvscan.findings import Finding, by_severity
from pvscan.report import FindingReporter, ReviewRun, shown_path

if TYPE_CHECKING:
    from typing import Any

    from pvscan.review.patch import FilePatch, Hunk
    from pvscan.review.review import PatchReview


CHECKPATCH_LEVEL = {"error": "ERROR", "warning": "WARNING", "note": "CHECK"}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _series_line(run: ReviewRun) -> str:
    """What a series of patches does as a whole, in one line."""
    assert run.whole is not None
    return f"the series of {len(run.reviews)} patches {run.whole.summary()}"


class CheckpatchReview(FindingReporter[ReviewRun, "PatchReview"]):
    """One line per annotation, then checkpatch's totals line per patch (which tools parse),
    unless --no-summary, as checkpatch.pl --no-summary: what b4's per-patch check reads."""

    def beginning(self, r: PatchReview) -> None:
        self.counts = {"error": 0, "warning": 0, "note": 0}

    def handle(self, f: Finding) -> None:
        self.counts[f.severity] += 1
        self.out.append(format_location(f.file, f.line, f"{CHECKPATCH_LEVEL[f.severity]}: {f.code} "
                                                        f"{_one_line(f.message)}") + "\n")

    def finished(self, r: PatchReview) -> None:
        if self.run.summary_lines:
            c = self.counts
            self.out.append(f"total: {c['error']} errors, {c['warning']} warnings, {c['note']} checks, "
                            f"{r.lines} lines checked\n")


class TextReview(FindingReporter[ReviewRun, "PatchReview"]):
    """For people: each patch's title, its annotations (errors first), and what it does to
    pv_ops; then the verdict of the whole series: the counts and what to do next."""

    def beginning(self, r: PatchReview) -> None:
        n = len(self.run.reviews)
        self.out.append(f"[{r.index}/{n}] {printable(r.subject)}\n" if n > 1 or r.subject else "patch\n")
        if r.already_applied:
            self.out.append("  (the tree already holds this patch; reviewed against the tree without it)\n")
        self.patch: list[Finding] = []

    def handle(self, f: Finding) -> None:
        self.patch.append(f)

    def finished(self, r: PatchReview) -> None:
        for f in by_severity(self.patch):
            self._line(f)
        self.out.append(f"pvscan: this patch {printable(r.summary())}\n\n")

    def _line(self, f: Finding) -> None:
        level = CHECKPATCH_LEVEL[f.severity]
        line = format_location(shown_path(f.file), f.line, f"{level}: {f.code} {_one_line(f.message)}")
        if self.run.color:
            from pvscan.report.color import paint

            line = line.replace(f": {level}: ", f": {paint(level)}: ", 1)
        self.out.append(line + "\n")

    def stop(self) -> str:
        whole = self.run.whole
        if whole is not None:
            # The series as a whole: what is left of its changes once each patch is applied.
            self.out.append(f"[series] the {len(self.run.reviews)} patches as a whole\n")
            for f in by_severity(whole.findings):
                self._line(f)
            self.out.append(f"pvscan: the series {printable(whole.summary())}\n\n")
        self.out.append(f"pvscan: {len(self.run.reviews)} patch(es): {self.run.verdict}\n")
        return "".join(self.out)


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


class GithubReview(FindingReporter[ReviewRun, "PatchReview"]):
    """GitHub Actions workflow commands: one annotation per finding, then one notice per patch."""

    LEVEL = {"error": "error", "warning": "warning", "note": "notice"}

    def handle(self, f: Finding) -> None:
        self.out.append(f"::{self.LEVEL[f.severity]} file={_gh_property(f.file)},line={f.line},"
                        f"title={_gh_property(f.code)}::{_gh_data(f.message)}\n")

    def stop(self) -> str:
        for r in self.run.reviews:
            self.out.append(f"::notice title={_gh_property('pvscan')}::"
                            f"{_gh_data('patch ' + str(r.index) + ' ' + r.summary())}\n")
        if self.run.whole is not None:
            self.out.append(f"::notice title={_gh_property('pvscan')}::"
                            f"{_gh_data(_series_line(self.run))}\n")
        return "".join(self.out)


class SarifReview(FindingReporter[ReviewRun, "PatchReview"]):
    """SARIF 2.1.0, as check writes it, with the change kinds among the rules."""

    def start(self) -> None:
        from pvscan.report import CheckRun
        from pvscan.report.findings import SarifReporter

        self.sarif = SarifReporter(CheckRun("", self.run.rules, (), {}, {}))
        self.sarif.start()

    def handle(self, f: Finding) -> None:
        self.sarif.handle(f)

    def stop(self) -> str:
        whole = self.run.whole
        if whole is not None:
            # A series: each patch's verdict, and what the series does as a whole, in the run's property bag.
            self.sarif.properties = {"pvscan/series": {
                "patches": [{"index": r.index, "subject": r.subject, "summary": f"this patch {r.summary()}"}
                            for r in self.run.reviews],
                "summary": f"the series {whole.summary()}",
                "findings": [{"code": f.code, "severity": f.severity, "op": f.op, "file": f.file, "line": f.line,
                              "message": f.message} for f in by_severity(whole.findings)]}}
        return self.sarif.stop()


class _JsonList(FindingReporter[ReviewRun, "PatchReview"]):
    """Formats that are one JSON document of all the findings."""

    def start(self) -> None:
        self.items: list[object] = []

    def handle(self, f: Finding) -> None:
        self.items.append(self.item(f))

    def item(self, f: Finding) -> object:
        """One finding as its format's JSON value."""
        raise NotImplementedError

    def stop(self) -> str:
        return json.dumps(self.document(self.items), indent=2, ensure_ascii=False) + "\n"

    def document(self, items: list[object]) -> object:
        return items


class GitlabReview(_JsonList):
    """GitLab Code Quality: a list of issues."""

    SEVERITY = {"error": "major", "warning": "minor", "note": "info"}

    def item(self, f: Finding) -> dict[str, Any]:
        return {"description": f"{f.code} {_one_line(f.message)}", "check_name": f.code,
                "fingerprint": f.fingerprint, "severity": self.SEVERITY[f.severity],
                "location": {"path": f.file, "lines": {"begin": f.line}}}


class RdjsonReview(_JsonList):
    """reviewdog's rdjson."""

    SEVERITY = {"error": "ERROR", "warning": "WARNING", "note": "INFO"}

    def item(self, f: Finding) -> dict[str, Any]:
        return {"message": f.message, "location": {"path": f.file, "range": {"start": {"line": f.line}}},
                "severity": self.SEVERITY[f.severity], "code": {"value": f.code}}

    def document(self, items: list[object]) -> object:
        return {"source": {"name": "pvscan", "url": "https://pypi.org/project/pvscan/"}, "diagnostics": items}


class PatchworkReview(FindingReporter[ReviewRun, "PatchReview"]):
    """Patchwork checks: one per patch, its state from its worst finding."""

    def start(self) -> None:
        self.checks: list[dict[str, object]] = []

    def finished(self, r: PatchReview) -> None:
        worst = {f.severity for f in r.findings}
        state = "fail" if "error" in worst else ("warning" if "warning" in worst else "success")
        self.checks.append({"patch": r.index, "subject": r.subject, "context": "pvscan", "state": state,
                            "description": f"pvscan {__version__}: this patch {r.summary()}"})

    def stop(self) -> str:
        if self.run.whole is not None:
            # The series as a whole, on its last patch: the context a series-level check uses.
            worst = {f.severity for f in self.run.whole.findings}
            state = "fail" if "error" in worst else ("warning" if "warning" in worst else "success")
            last = self.run.reviews[-1]
            self.checks.append({"patch": last.index, "subject": last.subject, "context": "pvscan-series",
                                "state": state, "description": f"pvscan {__version__}: {_series_line(self.run)}"})
        return json.dumps(self.checks, indent=2, ensure_ascii=False) + "\n"


class ReplyReview(FindingReporter[ReviewRun, "PatchReview"]):
    """A plain-text reply that quotes only the hunks with comments, comments under their lines."""

    def finished(self, r: PatchReview) -> None:
        self.out.append(_reply(r))


def _reply(r: PatchReview) -> str:
    """One patch's reply: the hunks with comments quoted, each comment under its line."""
    out = []
    who = r.author or "you"
    out.append(printable(f"On {r.date}, {who} wrote:" if r.date else f"{who} wrote:") + "\n")
    by_place: dict[tuple[str, str, int], list[Finding]] = {}
    for f in r.findings:
        # A finding about a removed line sits under that line of the quoted hunk (the old side).
        place = (f.file, "new", f.line) if f.old_line is None else (f.file, "old", f.old_line)
        by_place.setdefault(place, []).append(f)
    placed: set[tuple[str, str, int]] = set()
    for fp in r.files:
        for hunk in fp.hunks:
            out.extend(_quoted_hunk(fp, hunk, by_place, placed))
    rest = [f for key, fs in sorted(by_place.items(), key=lambda kv: (kv[0][0] or "", kv[0][1], kv[0][2]))
            if key not in placed for f in fs]
    if rest:
        out.append("\nOutside the quoted hunks:\n")
        for f in rest:
            out.append("  " + format_location(f.file, f.line, f"{f.code}: {f.message}") + "\n")
    out.append(f"\npvscan: this patch {printable(r.summary())}.\n\n")
    return "".join(out)


def _commented_lines(fp: FilePatch, hunk: Hunk, by_place: dict[tuple[str, str, int], list[Finding]],
                     placed: set[tuple[str, str, int]]) -> list[tuple[int, tuple[str, str, int]]]:
    """[(index in the hunk, place)] of the hunk's lines that have comments not yet placed."""
    notes = []
    old, new = hunk.old_start, hunk.new_start
    for i, line in enumerate(hunk.raw):
        tag = line[0]
        keys = []
        if tag in " -":
            keys.append((fp.new_path or fp.old_path, "old", old))
        if tag in " +":
            keys.append((fp.new_path, "new", new))
        notes += [(i, key) for key in keys if key in by_place and key not in placed]
        old += tag in " -"
        new += tag in " +"
    return notes


def _quoted_hunk(fp: FilePatch, hunk: Hunk, by_place: dict[tuple[str, str, int], list[Finding]],
                 placed: set[tuple[str, str, int]]) -> list[str]:
    """The hunk quoted up to each commented line (three lines of context), each comment under its line."""
    notes = _commented_lines(fp, hunk, by_place, placed)
    if not notes:
        return []
    out = [printable(f"> diff --git a/{fp.old_path or fp.new_path} b/{fp.new_path or fp.old_path}") + "\n",
           f"> @@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@\n"]
    shown = 0
    for i, key in notes:
        if i - 3 > shown:
            out.append("> [...]\n")
            shown = i - 3
        out += [f"> {printable(line, keep_tab=True)}\n" for line in hunk.raw[shown:i + 1]]
        shown = i + 1
        placed.add(key)
        out.append("\n")
        out += [printable(f"{f.code}: {f.message}") + "\n" for f in by_place[key]]
        out.append("\n")
    if shown < len(hunk.raw):
        out.append("> [...]\n")
    return out
