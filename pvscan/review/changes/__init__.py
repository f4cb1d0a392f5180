"""What a patch does to the pv_ops interface: change kinds, numbered after the checks (PV1nn).

Each kind is one module, pvNNN_name.py, with its class as RULE: a
ChangeKind (base.py) with the four-part docstring of every rule and
changes(pair), which yields its findings for one op before and after the
patch. `pvscan rules` and docs/rules.md list them beside the checks, and
SARIF describes review annotations the same way as check findings.
"""

from __future__ import annotations

import importlib
import pkgutil


def change_kinds() -> list:
    """Every change kind, in code order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("pv"))
    return [importlib.import_module(f"{__name__}.{n}").RULE for n in names]
