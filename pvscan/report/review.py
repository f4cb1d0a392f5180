"""Review output formats. Each takes the list of PatchReview and returns the whole output.

Escaping lives here, in the format that needs it: GitHub workflow commands
percent-encode, the JSON formats go through json.dumps, the reply quotes.
"""

from __future__ import annotations

import json

from pvscan import __version__

CHECKPATCH_LEVEL = {"error": "ERROR", "warning": "WARNING", "note": "CHECK"}


def _all(reviews):
    return [(r, f) for r in reviews for f in r.findings]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def checkpatch(reviews, options) -> str:
    """One line per annotation and nothing else: what b4's per-patch check reads."""
    return "".join(f"{f.file}:{f.line}: {CHECKPATCH_LEVEL[f.severity]}: {f.code} {_one_line(f.message)}\n"
                   for _, f in _all(reviews))


def text(reviews, options) -> str:
    out = []
    for r in reviews:
        title = f"[{r.index}/{len(reviews)}] {r.subject}" if len(reviews) > 1 or r.subject else "patch"
        out.append(f"{title}\n")
        if r.already_applied:
            out.append("  (the tree already holds this patch; reviewed against the tree without it)\n")
        for f in r.findings:
            side = " (removed line)" if f.side == "old" else ""
            out.append(f"{f.file}:{f.line}: {CHECKPATCH_LEVEL[f.severity]}: {f.code} {_one_line(f.message)}{side}\n")
        out.append(f"pvscan: this patch {r.summary()}\n\n")
    return "".join(out)


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def github(reviews, options) -> str:
    level = {"error": "error", "warning": "warning", "note": "notice"}
    out = []
    for _, f in _all(reviews):
        out.append(f"::{level[f.severity]} file={_gh_property(f.file)},line={f.line},"
                   f"title={_gh_property(f.code)}::{_gh_data(f.message)}\n")
    for r in reviews:
        out.append(f"::notice title={_gh_property('pvscan')}::{_gh_data('patch ' + str(r.index) + ' ' + r.summary())}\n")
    return "".join(out)


def sarif(reviews, options) -> str:
    from pvscan.report.findings import SarifReporter
    from pvscan.rulebook import every_rule

    reporter = SarifReporter()
    reporter.start({"rules": every_rule()})
    for _, f in _all(reviews):
        reporter.handle(f)
    return reporter.stop(None)


def gitlab(reviews, options) -> str:
    severity = {"error": "major", "warning": "minor", "note": "info"}
    issues = [{
        "description": f"{f.code} {_one_line(f.message)}",
        "check_name": f.code,
        "fingerprint": f.fingerprint,
        "severity": severity[f.severity],
        "location": {"path": f.file, "lines": {"begin": f.line}},
    } for _, f in _all(reviews)]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


def rdjson(reviews, options) -> str:
    severity = {"error": "ERROR", "warning": "WARNING", "note": "INFO"}
    doc = {
        "source": {"name": "pvscan", "url": "https://pypi.org/project/pvscan/"},
        "diagnostics": [{
            "message": f.message,
            "location": {"path": f.file, "range": {"start": {"line": f.line}}},
            "severity": severity[f.severity],
            "code": {"value": f.code},
        } for _, f in _all(reviews)],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def patchwork(reviews, options) -> str:
    checks = []
    for r in reviews:
        worst = {f.severity for f in r.findings}
        state = "fail" if "error" in worst else ("warning" if "warning" in worst else "success")
        checks.append({"patch": r.index, "subject": r.subject, "context": "pvscan", "state": state,
                       "description": f"pvscan {__version__}: this patch {r.summary()}"})
    return json.dumps(checks, indent=2, ensure_ascii=False) + "\n"


def reply(reviews, options) -> str:
    """A plain-text reply that quotes only the hunks with comments, comments under their lines."""
    out = []
    for r in reviews:
        who = r.author or "you"
        out.append(f"On {r.date}, {who} wrote:\n" if r.date else f"{who} wrote:\n")
        by_place = {}
        for f in r.findings:
            by_place.setdefault((f.file, f.side, f.line), []).append(f)
        placed = set()
        for fp in r.files:
            for hunk in fp.hunks:
                notes = []
                old, new = hunk.old_start, hunk.new_start
                for i, (tag, textline) in enumerate(hunk.lines):
                    keys = []
                    if tag in " -":
                        keys.append((fp.old_path, "old", old))
                    if tag in " +":
                        keys.append((fp.new_path, "new", new))
                    for key in keys:
                        if key in by_place and key not in placed:
                            notes.append((i, key))
                    old += tag in " -"
                    new += tag in " +"
                if not notes:
                    continue
                out.append(f"> diff --git a/{fp.old_path or fp.new_path} b/{fp.new_path or fp.old_path}\n")
                out.append(f"> @@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@\n")
                shown = 0
                for i, key in notes:
                    if i - 3 > shown:
                        out.append("> [...]\n")
                        shown = i - 3
                    for tag, textline in hunk.lines[shown:i + 1]:
                        out.append(f"> {tag}{textline}\n")
                    shown = i + 1
                    placed.add(key)
                    out.append("\n")
                    for f in by_place[key]:
                        out.append(f"{f.code}: {f.message}\n")
                    out.append("\n")
                if shown < len(hunk.lines):
                    out.append("> [...]\n")
        rest = [f for key, fs in sorted(by_place.items(), key=lambda kv: (kv[0][0] or "", kv[0][1], kv[0][2]))
                if key not in placed for f in fs]
        if rest:
            out.append("\nOutside the quoted hunks:\n")
            for f in rest:
                out.append(f"  {f.file}:{f.line}: {f.code}: {f.message}\n")
        out.append(f"\npvscan: this patch {r.summary()}.\n\n")
    return "".join(out)


REVIEW_FORMATS = {"text": text, "checkpatch": checkpatch, "github": github, "sarif": sarif,
                  "gitlab": gitlab, "rdjson": rdjson, "patchwork": patchwork, "reply": reply}
