"""The CI integrations, run the way their hosts run them (as far as this machine has the host)."""

import json
import os
import shutil
import subprocess
import sys

import yaml
from conftest import FIXTURES, fixture_tree

REPO = FIXTURES.parent
TYPES = "arch/x86/include/asm/paravirt_types.h"
SET_PMD = "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);"


def kernel_repo(tmp_path):
    repo = tmp_path / "linux"
    shutil.copytree(fixture_tree("gen3-unified"), repo)
    # The hosts run 'pvscan' from PATH: this interpreter's, whose environment need not be on it.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org", PATH=path)
    run = lambda *a: subprocess.run(a, cwd=repo, env=env, check=True, capture_output=True)
    run("git", "init", "-q", "-b", "master")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "base")
    types = repo / TYPES
    types.write_text(types.read_text().replace(SET_PMD, SET_PMD + "\n\tvoid (*enter_mmap)(struct mm_struct *mm);"))
    return repo, env, run


def test_pre_commit_hook_entry_on_a_staged_change(tmp_path):
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "pvscan-review" and hook["pass_filenames"] is False
    repo, env, run = kernel_repo(tmp_path)
    run("git", "add", TYPES)
    # pre-commit runs the entry through a shell in the repository's top level.
    proc = subprocess.run(hook["entry"], shell=True, cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0
    assert f"{TYPES}:70: WARNING: PV101 patch adds op mmu.enter_mmap" in proc.stdout


def test_github_action_step_writes_annotations_and_sarif(tmp_path):
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif") for s in action["runs"]["steps"])
    repo, env, run = kernel_repo(tmp_path)
    run("git", "commit", "-qam", "add enter_mmap")
    env = dict(env, PVSCAN_BASE="HEAD~1", PVSCAN_ABIS="xen-pv", PVSCAN_FAIL_ON="error")
    proc = subprocess.run(["bash", str(REPO / "ci" / "github" / "review.sh")], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"::warning file={TYPES},line=70,title=PV101::patch adds op mmu.enter_mmap" in proc.stdout
    sarif = json.loads((repo / "pvscan.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    # PV101 (the new op); PV112: the fixture's Xen copies the mmu group whole from xen_mmu_ops
    # (mmu_pv.c:63), which does not name it, so it is NULL under Xen; and PV001: the Xen ABI maps
    # enter_mmap for kernels from 6.12 only, and the fixture is a 6.6 tree (its Makefile).
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"PV101", "PV112", "PV001"}


def test_gitlab_template_script_publishes_code_quality(tmp_path):
    job = yaml.safe_load((REPO / "ci" / "gitlab" / "pvscan.gitlab-ci.yml").read_text())["pvscan-review"]
    assert job["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    repo, env, run = kernel_repo(tmp_path)
    run("git", "commit", "-qam", "add enter_mmap")
    # The job's review lines, with the merge base that GitLab would compute.
    script = [l for l in job["script"] if "pvscan review" in l or "git diff" in l or "abi_args=" in l]
    shell = "set -e\nbase=HEAD~1\nPVSCAN_ABIS=''\nPVSCAN_FAIL_ON=error\n" + "\n".join(script)
    proc = subprocess.run(["bash", "-c", shell], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((repo / "gl-code-quality-report.json").read_text())
    assert report[0]["check_name"] == "PV101" and report[0]["location"]["lines"]["begin"] == 70
