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
    args: tuple             # ((name, value), ...) for the template
    evidence: tuple[str, ...] = ()
    in_tree: bool = True    # False: file is the ABI file, not a tree path
    side: str = "new"       # review: "new" (a line after the patch) or "old" (about a removed line)
    flow: tuple = ()        # ((file, line, text), ...): a call chain, shown as SARIF codeFlows
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

    def sort_key(self):
        return (self.file, self.line, self.code, self.abi, self.op, self.message)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def severity_counts(findings) -> dict:
    """{severity: how many}, every severity present, in SEVERITIES order."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts
