"""What every code has, check (PV0nn) or change kind (PV1nn): a unit with its own page.

A rule is a class with a stable code, a name, a default severity, a
message template and a docstring in four parts (What it does / Why it
matters / Example / How to fix), from which `pvscan rules`, docs/rules.md
and SARIF's rule descriptions are made. pvscan.checks.rules and
pvscan.review.changes add what finds them; pvscan.rulebook lists them all.
"""

from __future__ import annotations

import inspect


class Rule:
    code = "PV000"
    name = "rule"
    severity = "warning"
    message = ""

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.doc().splitlines()[0] if cls.__doc__ else cls.name
