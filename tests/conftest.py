"""Shared fixtures: scans of our fixture trees and of Debian's real kernel trees.

Real trees come from scripts/fetch-kernels (cached in ~/.cache/pvscan/kernels).
When a tree is missing and cannot be fetched here, its tests are skipped with
the reason; .ci/run fetches both before running the tests, so CI runs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
KERNEL_CACHE = Path(os.environ.get("PVSCAN_KERNEL_CACHE")
                    or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pvscan" / "kernels")


def fixture_tree(name: str) -> Path:
    return FIXTURES / name


def pvscan(*args, env=None, cwd=None, timeout=600):
    """Run the command line; a run that hangs fails the test instead of the suite."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "pvscan", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


# The unified fixture's types header, and its set_pmd member as written: what review tests edit.
TYPES = "arch/x86/include/asm/paravirt_types.h"
SET_PMD = "\tvoid (*set_pmd)(pmd_t *pmdp, pmd_t pmdval);"


def make_patch(tmp_path, edits, name="p.diff", tree=None):
    """A 'diff -ruN' patch of our own against tree (the unified fixture unless named): edits maps
    a path to (old, new) text replacements."""
    tree = tree or fixture_tree("gen3-unified")
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(tree, a)
    shutil.copytree(tree, b)
    for rel, (old, new) in edits.items():
        path = b / rel
        text = path.read_text() if path.exists() else ""
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))
    out = subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp_path, capture_output=True).stdout
    patch = tmp_path / name
    patch.write_bytes(out)
    return patch, b


def glue_chains(tree_path, backend):
    """{op: [(hypercall, batched, [function, ...]), ...]}: what each op's implementation in the
    backend reaches, as check --trace-glue traces it."""
    from pvscan.checks.glue import derive
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    result = scan(tree_path, callers=False, jobs=1)
    derived, _ = derive(KernelTree(tree_path), result.inventory, backend)
    return {op: [(r.hypercall, r.batched, [s.function for s in r.chain]) for r in reaches]
            for op, reaches in derived.items()}


def op(result, name, arch="x86"):
    hits = [o for o in result.inventory.ops if o.name == name and o.arch == arch]
    assert len(hits) == 1, f"{arch} {name}: {len(hits)} ops"
    return hits[0]


def impls(o, backend=None):
    return sorted((i.backend, i.function) for i in o.implementations if backend in (None, i.backend))


def functions(o, backend):
    return sorted({i.function for i in o.implementations if i.backend == backend})


@pytest.fixture(scope="session")
def gen1():
    from pvscan.pipeline import scan
    return scan(fixture_tree("gen1-single"), jobs=1)


@pytest.fixture(scope="session")
def gen2():
    from pvscan.pipeline import scan
    return scan(fixture_tree("gen2-split"), jobs=1)


@pytest.fixture(scope="session")
def gen3():
    from pvscan.pipeline import scan
    return scan(fixture_tree("gen3-unified"), jobs=1)


@pytest.fixture(scope="session")
def gen4():
    from pvscan.pipeline import scan
    return scan(fixture_tree("gen4-named"), jobs=1)


def kernel_path(version: str) -> Path:
    path = KERNEL_CACHE / f"linux-source-{version}"
    if not (path / ".pvscan-fetched").exists():
        proc = subprocess.run([str(REPO / "scripts" / "fetch-kernels"), version],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not (path / ".pvscan-fetched").exists():
            reason = f"linux-source-{version} not available: {proc.stderr.strip()[-200:]}"
            if os.environ.get("PVSCAN_REQUIRE_KERNELS"):
                pytest.fail(reason)
            pytest.skip(reason)
    return path


# The generations before 6.1: no Debian package; scripts/unpack-mirror exports them from
# git mirrors that a session brought (github:j0n3lson/linux-2.6.22.19-cs370,
# github:avsm/linux-2.6.32-xen-oprofile, and github:tw-embedded/linux-4.19, whose HEAD is
# 4.14.219 whatever its name says). CI cannot fetch those, so their tests skip.
OLD_MIRRORS = {"2.6.22": "j0n3lson/linux-2.6.22.19-cs370", "2.6.32": "avsm/linux-2.6.32-xen-oprofile",
               "4.14": "tw-embedded/linux-4.19", "4.19": "shubham95/linux-4.19.13",
               # The releases of VMI's and lguest's eras between those (vendor trees whose x86 is
               # the release's; 2.6.24's lacks its .S files): tests/inventory/test_eras.py.
               "2.6.21": "cyox93/s3c-linux-2.6.21", "2.6.23": "zheharry/linux-sh4-2.6.23.17_stm23_A18B",
               "2.6.24": "fulei0920/linux-2.6.24", "2.6.26": "katadelos/linux-2.6.26-lab126",
               "2.6.27": "HappyASR/LinuxKernel2.6.27", "2.6.28": "sensysnetworks/linux-2.6.28-at91",
               "2.6.29": "greendrm/linux-2.6.29-s5pc100", "2.6.30": "keystargchy/linux-2.6.30",
               "2.6.31": "jz47xx/linux-2.6.31.3", "2.6.33": "DesignA-Electronics/linux-2.6.33.3",
               "2.6.34": "zwliew/linux-2.6.34-ux500", "2.6.35": "rivsidn/linux-2.6.35.6",
               "2.6.36": "allwinner/linux-2.6.36", "3.10": "harviswang/linux-3.10.99",
               "3.18": "jockyw2001/linux-3.18", "4.4": "xiaojimmychen/linux-4.4", "4.8": "squirrel20/linux-4.8.15",
               "4.9": "lxuxx/linux-4.9", "4.10": "pengdonglin137/linux-4.10.17", "4.11": "HCLS/linux-4.11",
               "4.12": "jason50123/linux-4.12", "4.13": "shizukanaskytree/linux-4.13.4"}


def old_kernel_path(version: str) -> Path:
    path = KERNEL_CACHE / f"linux-{version}"
    if not (path / ".pvscan-fetched").exists():
        pytest.skip(f"linux-{version} is not in {KERNEL_CACHE}: CI cannot fetch the git mirror "
                    f"github:{OLD_MIRRORS[version]}; bring it, then run scripts/unpack-mirror {version} GIT_DIR")
    return path


@pytest.fixture(scope="session")
def linux_2_6_22():
    from pvscan.pipeline import scan
    return scan(old_kernel_path("2.6.22"))


@pytest.fixture(scope="session")
def linux_2_6_32():
    from pvscan.pipeline import scan
    return scan(old_kernel_path("2.6.32"))


@pytest.fixture(scope="session")
def linux_4_14():
    from pvscan.pipeline import scan
    return scan(old_kernel_path("4.14"))


@pytest.fixture(scope="session")
def linux_6_1():
    from pvscan.pipeline import scan
    return scan(kernel_path("6.1"))


@pytest.fixture(scope="session")
def linux_6_12():
    from pvscan.pipeline import scan
    return scan(kernel_path("6.12"))


@pytest.fixture(scope="session")
def linux_7_2():
    from pvscan.pipeline import scan
    return scan(kernel_path("7.2"))


def git_checkout(path: Path, tree: Path | None = None):
    """A copy of a fixture tree (gen3 by default) at path, committed as 'base' in a new git repository;
    returns git(*args) -> its standard output, run in that repository."""
    import shutil

    shutil.copytree(tree or fixture_tree("gen3-unified"), path)
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org")

    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(path), *args], env=env, check=True, capture_output=True,
                              text=True).stdout

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    return git
