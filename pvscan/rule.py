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
    # What a finding of the rule means to the stages that count findings: declared on the rule,
    # never as a list of codes elsewhere (rules are named by their class, or by Rule.code).
    constrains = False          # check: the ABI maps the op, within limits (coverage: 'constrained')
    needs_abi = False           # history: the op as a revision has it is more than the ABI expresses
    changes_op = False          # review: the op itself changes (it comes, goes, is renamed or retyped)
    changes_interface = False   # review: the pv_ops interface changes (changes_op, or an op moves table)
    changes_use = False         # review: a call site, or how a backend fills an op, changes
    counted_as = ""             # review: how a patch's summary counts its findings ("op(s) added")

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.doc().splitlines()[0] if cls.__doc__ else cls.name
