"""Every code pvscan reports, in code order: the checks, then the review change kinds."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pvscan.rule import Rule


def every_rule() -> list:
    from pvscan.checks.rules import all_rules
    from pvscan.review.changes import change_kinds

    return all_rules() + change_kinds()


def rule(code: str) -> type[Rule] | None:
    """A check (PV0nn) or a review change kind (PV1nn) by its code, or None."""
    return next((r for r in every_rule() if r.code == code.upper()), None)
