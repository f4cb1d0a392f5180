"""pvscan as a library (docs/api.md): the three calls the commands make, on our own fixtures."""

import json

from conftest import FIXTURES, SET_PMD, TYPES, fixture_tree, make_patch
from conftest import pvscan as run_pvscan

import pvscan

GEN3 = fixture_tree("gen3-unified")
TOY = str(FIXTURES / "abi" / "toy-gen3.toml")


def test_scan_gives_the_inventory_the_command_prints():
    result = pvscan.scan(GEN3)
    printed = json.loads(run_pvscan("scan", str(GEN3), "--format", "json").stdout)
    assert sorted(o.name for o in result.inventory.ops) == sorted({o["name"] for o in printed["ops"]})
    # set_pmd: paravirt_types.h line 69 of our fixture, filled by the native backend.
    set_pmd = next(o for o in result.inventory.ops if o.name == "mmu.set_pmd")
    assert (set_pmd.file, set_pmd.line) == (TYPES, 69)
    assert "native" in set_pmd.backends


def test_check_gives_the_findings_the_command_prints():
    checked = pvscan.check(GEN3, [TOY])
    printed = run_pvscan("check", str(GEN3), "--abi", TOY, "--format", "json")
    codes = sorted(f["code"] for f in json.loads(printed.stdout)["findings"])
    assert sorted(f.code for f in checked.result.findings) == codes
    assert checked.scan.inventory.ops and checked.result.abis[0].name == "toy"


def test_review_of_a_patchs_bytes(tmp_path):
    from pvscan.api import review

    patch, _ = make_patch(tmp_path, {TYPES: (SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);")})
    series = review(GEN3, patch.read_bytes(), [TOY], name=str(patch))
    found = {(f.code, f.op, f.line) for r in series.patches for f in r.findings}
    assert ("PV101", "mmu.enter_mmap", 70) in found and ("PV001", "mmu.enter_mmap", 70) in found


def test_calls_on_two_runs_share_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    first, second = pvscan.Run(), pvscan.Run()
    pvscan.scan(GEN3, run=first)
    assert first.cache_roots == {tmp_path / "cache"}
    assert not any(vars(second).values())
