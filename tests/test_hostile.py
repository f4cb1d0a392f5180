"""Bad input and unsafe outputs: one line and exit 2 where the run cannot go on, never a hang,
never a write outside the requested output, never a change to the tree."""

import os
import shutil
import stat
import subprocess

import pytest

from conftest import FIXTURES, fixture_tree
from test_cli import pvscan

GEN3 = fixture_tree("gen3-unified")
TYPES = "arch/x86/include/asm/paravirt_types.h"


def snapshot(tree):
    return sorted((str(p.relative_to(tree)), p.is_symlink() or p.stat().st_size)
                  for p in tree.rglob("*"))


@pytest.fixture
def tree(tmp_path):
    copy = tmp_path / "tree"
    shutil.copytree(GEN3, copy, symlinks=True)
    return copy


def one_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pvscan: error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


# -- outputs ------------------------------------------------------------------------------

def test_output_through_a_symlink_and_dotdot_into_the_tree_is_refused(tree, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tree / "arch" / "x86")
    before = snapshot(tree)
    one_error(pvscan("scan", str(tree), "-o", f"{link}/../out.json"), "refusing to write into the kernel tree")
    assert snapshot(tree) == before and not (tree / "arch" / "out.json").exists()


def _device(path):
    """A character device node like /dev/null, of our own: the test never aims at a real one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "link to a device"])
def test_output_onto_a_special_file_or_directory_is_refused(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    elif kind == "device":
        _device(target)
    else:
        _device(tmp_path / "dev")
        target.symlink_to(tmp_path / "dev")
    proc = pvscan("scan", str(GEN3), "-o", str(target), timeout=60)
    one_error(proc, "standard output" if kind != "directory" else "is a directory")
    real = os.path.realpath(target)
    assert os.path.exists(real) and not os.path.isfile(real)


def test_dash_writes_to_standard_output():
    assert pvscan("scan", str(GEN3), "-o", "-").stdout.startswith("Linux ")


def test_no_baseline_is_written_when_the_output_cannot_be(tmp_path):
    baseline = tmp_path / "base.json"
    proc = pvscan("check", str(GEN3), "--abi", str(FIXTURES / "abi" / "toy-gen3.toml"),
                  "--write-baseline", str(baseline), "-o", str(tmp_path / "no" / "such" / "dir" / "out.txt"))
    one_error(proc, "cannot write")
    assert not baseline.exists()


def test_git_commands_refuse_outputs_inside_the_repository(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(GEN3, repo)
    env = dict(os.environ, GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="T", GIT_COMMITTER_EMAIL="t@example.org")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "a"], ["commit", "-q", "--allow-empty", "-m", "b"]):
        subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)
    before = snapshot(repo)
    one_error(pvscan("history", "--git", str(repo), "HEAD~1", "HEAD", "-o", str(repo / "h.json")),
              "refusing to write")
    one_error(pvscan("review", "--git", str(repo), "HEAD~1..HEAD", "-o", str(repo / ".git" / "r.txt")),
              "refusing to write")
    assert snapshot(repo) == before


# -- inputs -------------------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--abi", "--backend-map", "--baseline", "--config", "--history", "patch"])
def test_a_fifo_named_as_an_input_is_an_error_not_a_hang(tmp_path, option):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = {
        "--abi": ["check", str(GEN3), "--abi", str(fifo)],
        "--backend-map": ["scan", str(GEN3), "--backend-map", str(fifo)],
        "--baseline": ["check", str(GEN3), "--abi", "xen-pv", "--baseline", str(fifo)],
        "--config": ["check", str(GEN3), "--abi", "xen-pv", "--precise", "--config", str(fifo)],
        "--history": ["report", str(GEN3), "--history", str(fifo), "-o", str(tmp_path / "r.html")],
        "patch": ["review", "--tree", str(GEN3), str(fifo)],
    }[option]
    one_error(pvscan(*args, timeout=60), "not a regular file", str(fifo))


def test_a_character_device_as_an_input_is_an_error(tmp_path):
    _device(tmp_path / "dev")
    one_error(pvscan("check", str(GEN3), "--abi", str(tmp_path / "dev"), timeout=60), "not a regular file")


@pytest.mark.parametrize("ripgrep", [True, False])
def test_fifos_and_devices_in_the_tree_are_skipped_the_same_with_or_without_ripgrep(tree, ripgrep):
    clean = pvscan("scan", str(GEN3), "--format", "json", "-j", "1").stdout
    os.mkfifo(tree / "arch" / "x86" / "kernel" / "pipe.c")
    try:
        os.mknod(tree / "arch" / "x86" / "kernel" / "zero.c", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    except PermissionError:
        pass
    env = {} if ripgrep else {"PVSCAN_NO_RIPGREP": "1"}
    proc = pvscan("scan", str(tree), "--format", "json", "-j", "1", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.replace(str(tree), str(GEN3)) == clean


def test_a_makefile_pointing_out_of_the_tree_is_refused(tree, tmp_path):
    other = tmp_path / "Makefile"
    other.write_text("VERSION = 9\nPATCHLEVEL = 9\n")
    (tree / "Makefile").unlink()
    (tree / "Makefile").symlink_to(other)
    one_error(pvscan("scan", str(tree)), "points outside the tree")


def test_a_fifo_as_the_makefile_is_refused(tree):
    (tree / "Makefile").unlink()
    os.mkfifo(tree / "Makefile")
    one_error(pvscan("scan", str(tree), timeout=60), "not a regular file")


def test_a_huge_sparse_makefile_is_read_only_at_its_head(tree):
    with open(tree / "Makefile", "r+b") as f:
        f.seek(2 * 1024 ** 3)
        f.write(b"\n")
    proc = pvscan("scan", str(tree), "--no-callers", timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("Linux 6.6.0:")


def test_deeply_nested_ifdefs_around_an_op_keep_their_whole_guard(tree):
    """20,000 nested #ifdefs: every one is in the op's guard (and the scan does not go quadratic)."""
    n = 20000
    (tree / "arch/x86/include/asm/deep.h").write_text(
        "struct pv_deep_ops {\n" + "".join(f"#ifdef CONFIG_X{i}\n" for i in range(n))
        + "\tvoid (*f)(void);\n" + "#endif\n" * n + "};\nextern struct pv_deep_ops pv_deep_ops;\n")
    proc = pvscan("scan", str(tree), "--format", "json", "--no-callers", "-j", "1", timeout=120)
    import json

    (op,) = [o for o in json.loads(proc.stdout)["ops"] if o["name"] == "pv_deep_ops.f"]
    assert op["guard"].count("defined(CONFIG_X") == n
    assert op["guard"].startswith("defined(CONFIG_X0) && ") and op["guard"].endswith("defined(CONFIG_X19999)")
