"""The README's samples are what the current code prints (scripts/readme-samples).

Each sample is run afresh where its trees and inputs are on this machine and compared
with the README, versions, counts and figures included; one that cannot run here is
skipped with the reason.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "readme-samples"


def _load():
    import sys

    loader = importlib.machinery.SourceFileLoader("readme_samples", str(SCRIPT))
    spec = importlib.util.spec_from_loader("readme_samples", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_samples"] = module          # its dataclass looks itself up there
    loader.exec_module(module)
    return module


_SCRIPT = _load()


def _script():
    return _SCRIPT


SAMPLES = _SCRIPT.samples(_SCRIPT.README.read_text())


def test_the_readme_has_its_samples_marked():
    # scan, --op twice, abi list, check twice, review three times, history: none goes unmarked.
    # Every command shown with its output is a sample (completion's, redirected to a file, shows none).
    assert len(SAMPLES) >= 10
    shown = {line for s in SAMPLES for line in s.body.splitlines()}
    readme = _script().README.read_text().splitlines()
    assert [line for line in readme if line.startswith("$ pvscan ") and " > " not in line and line not in shown] == []


@pytest.mark.kernel
@pytest.mark.parametrize("sample", SAMPLES, ids=[s.title[:60] for s in SAMPLES])
def test_a_readme_sample_matches_a_fresh_run(sample):
    body, why = _script().fresh(sample)
    if body is None:
        pytest.skip(why)
    assert body == sample.body, "README.md is stale here: run scripts/readme-samples"


def test_keep_specs_select_lines_and_mark_the_gaps():
    keep = _script().keep
    lines = [f"l{i}" for i in range(1, 11)]
    assert keep(lines, "all") == lines
    assert keep(lines, "1..2 -2..") == ["l1", "l2", "...", "l9", "l10"]
    assert keep(lines, "1 /l5/ /l7/") == ["l1", "...", "l5", "...", "l7", "..."]
    with pytest.raises(ValueError):
        keep(lines, "/l5/ /l3/")
