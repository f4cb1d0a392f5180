"""A finding: a small value with a code, like a pyflakes Message.

Everything a reporter prints comes from these fields. The message is built
from the rule's template and the finding's arguments, never stored
pre-formatted. The fingerprint (for baselines and SARIF) uses only fields
that survive unrelated edits: code, ABI, op and file, never a line number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SEVERITIES = ("note", "warning", "error")


@dataclass(frozen=True)
class Finding:
    """One finding of a check (PV001 ...), where it is and why."""

    code: str
    severity: str           # "error" | "warning" | "note"
    abi: str
    op: str
    file: str               # relative to the tree, or the ABI file for ABI-side findings
    line: int
    template: str
    args: tuple[tuple[str, object], ...]   # ((name, value), ...) for the template
    evidence: tuple[str, ...] = ()
    in_tree: bool = True    # False: file is the ABI file, not a tree path
    side: str = "new"       # review: "new" (a line after the patch) or "old" (about a removed line)
    flow: tuple[tuple[str, int, str], ...] = ()   # ((file, line, text), ...): a call chain, as SARIF codeFlows
    old_line: int | None = None   # review, side "old": the removed line, in the file before the patch

    @property
    def message(self) -> str:
        text = self.template.format(**dict(self.args))
        if self.old_line is not None:
            # Placed on a line of the new file; what it is about was removed from the old one.
            text += f" (line {self.old_line} before the patch, removed)"
        return text

    @property
    def fingerprint(self) -> str:
        key = "\0".join((self.code, self.abi, self.op, self.file))
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def sort_key(self) -> tuple[str, int, str, str, str, str]:
        return (self.file, self.line, self.code, self.abi, self.op, self.message)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def severity_counts(findings: list[Finding]) -> dict:
    """{severity: how many}, every severity present, in SEVERITIES order."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def unique_fingerprints(findings: list[Finding]) -> list[str]:
    """One fingerprint per finding, in order, unique among them (SARIF's partialFingerprints:
    code scanning folds results that share one) and stable when unrelated lines move: the
    finding's code, ABI, op and file with its message's words (numbers left out, since they are
    lines), and among findings still alike, their rank in the order given."""
    import re
    from collections import Counter

    seen: Counter = Counter()
    out = []
    for f in findings:
        key = "\0".join((f.code, f.abi or "", f.op or "", f.file or "", re.sub(r"\d+", "#", f.message)))
        base = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        seen[base] += 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def fails_at(fail_on: str, findings: list[Finding]) -> bool:
    """Whether findings reach --fail-on (never: no)."""
    return fail_on != "never" and any(severity_rank(f.severity) >= severity_rank(fail_on) for f in findings)


def by_severity(findings: list[Finding]) -> list:
    """Errors first, then warnings, then notes; each severity in the order it came."""
    return sorted(findings, key=lambda f: -severity_rank(f.severity))


def verdict(counts: dict, findings: list[Finding], fail_on: str, fails: bool) -> str:
    """The line a person acts on: the counts, whether the run fails (exit 1) at --fail-on, and
    where the codes of the gravest findings are explained."""
    line = f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['note']} note(s)"
    if fail_on != "never":
        line += f": {'fails' if fails else 'passes'} at --fail-on {fail_on}"
    for severity in ("error", "warning"):
        codes = sorted({f.code for f in findings if f.severity == severity})
        if len(codes) == 1:
            line += f"; 'pvscan rules {codes[0]}' explains the {severity}s"
        elif codes:
            line += f"; 'pvscan rules CODE' explains the {severity}s' {', '.join(codes[:4])}" \
                    + (" ..." if len(codes) > 4 else "")
        if codes:
            break
    return line
