"""The command line as a maintainer or CI meets it: output, exit codes, bad input."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import fixture_tree, pvscan

from pvscan.run import Run

GEN3 = str(fixture_tree("gen3-unified"))


def test_text_view_summarises_groups_backends_and_ops():
    proc = pvscan("scan", GEN3)
    assert proc.returncode == 0, proc.stderr
    assert "Groups" in proc.stdout and "Backends" in proc.stdout and "Ops" in proc.stdout
    assert "mmu.lazy_mode.enter" in proc.stdout


def test_json_has_the_documented_fields():
    doc = json.loads(pvscan("scan", GEN3, "--format", "json").stdout)
    assert doc["schema"] == "pvscan-scan/1"
    o = next(o for o in doc["ops"] if o["name"] == "mmu.set_pte")
    for key in ("name", "arch", "group", "return_type", "params", "convention", "guard", "location",
                "call_sites", "wrappers", "implementations"):
        assert key in o
    assert o["location"]["file"] == "arch/x86/include/asm/paravirt_types.h"
    assert {"backend", "file", "line", "function"} <= set(o["implementations"][0])
    assert o["wrappers"][0]["callers"] == 1


def test_op_in_full():
    proc = pvscan("scan", GEN3, "--op", "mmu.write_cr3", "--callers")
    assert proc.returncode == 0
    assert "PVOP_ALT_VCALL1 in write_cr3()" in proc.stdout
    assert "arch/x86/mm/tlb.c:6 in switch_mm_irqs_off()" in proc.stdout


def test_output_is_byte_identical_across_runs_jobs_and_search_engines(tmp_path):
    first = pvscan("scan", GEN3, "--format", "json", "--callers").stdout
    assert pvscan("scan", GEN3, "--format", "json", "--callers", "-j", "1").stdout == first
    assert pvscan("scan", GEN3, "--format", "json", "--callers", env={"PVSCAN_NO_RIPGREP": "1"}).stdout == first


def test_paths_are_relative_to_the_tree(tmp_path):
    copy = tmp_path / "linux"
    shutil.copytree(GEN3, copy)
    assert pvscan("scan", str(copy), "--format", "json").stdout == pvscan("scan", GEN3, "--format", "json").stdout


def test_unknown_op_is_a_usage_error_with_a_suggestion():
    proc = pvscan("scan", GEN3, "--op", "mmu.set_ptee")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith("(did you mean mmu.set_pte, mmu.set_pmd, mmu.set_pgd?)")


@pytest.mark.parametrize("path, message", [
    ("/nonexistent-pvscan", "no such directory"),
    # A directory inside a tree stands for the tree (test_a_directory_inside_the_tree_stands_for_the_tree);
    # one inside none is no tree.
    (str(fixture_tree("gen3-unified").parent), "not a Linux kernel tree"),
])
def test_not_a_kernel_tree(path, message):
    proc = pvscan("scan", path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


def test_tree_without_ops_tables(tmp_path):
    (tmp_path / "arch").mkdir()
    (tmp_path / "Makefile").write_text("VERSION = 2\nPATCHLEVEL = 6\nSUBLEVEL = 19\n")
    proc = pvscan("scan", str(tmp_path))
    assert proc.returncode == 2 and "no paravirt ops table found" in proc.stderr


def test_never_writes_into_the_tree(tmp_path):
    copy = tmp_path / "linux"
    shutil.copytree(GEN3, copy)
    before = sorted(p.name for p in copy.rglob("*"))
    proc = pvscan("scan", str(copy), "-o", str(copy / "inventory.json"))
    assert proc.returncode == 2 and "refusing to write into the kernel tree" in proc.stderr
    assert sorted(p.name for p in copy.rglob("*")) == before


def test_output_file_is_written_whole(tmp_path):
    out = tmp_path / "inv.json"
    assert pvscan("scan", GEN3, "--format", "json", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text())["schema"] == "pvscan-scan/1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pvscan-")]


def test_malformed_backend_map_names_file_and_line(tmp_path):
    bad = tmp_path / "map.toml"
    bad.write_text('[[backend]]\npattern = "arch/x86/foo/**"\nname = \n')
    proc = pvscan("scan", GEN3, "--backend-map", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"pvscan: error: {bad}:3: not valid TOML")


def test_backend_map_overrides_the_defaults(tmp_path):
    good = tmp_path / "map.toml"
    good.write_text('[[backend]]\npattern = "arch/x86/coco/tdx/**"\nname = "intel-tdx"\n')
    doc = json.loads(pvscan("scan", GEN3, "--format", "json", "--backend-map", str(good)).stdout)
    safe_halt = next(o for o in doc["ops"] if o["name"] == "irq.safe_halt")
    assert "intel-tdx" in {i["backend"] for i in safe_halt["implementations"]}
    doc = json.loads(pvscan("scan", GEN3, "--format", "json", "--backend", "arch/x86/kernel/kvm.c=kvm-guest").stdout)
    assert any(b["name"] == "kvm-guest" for b in doc["backends"])


@pytest.fixture
def hostile_tree(tmp_path):
    tree = tmp_path / "linux"
    shutil.copytree(GEN3, tree)
    k = tree / "arch/x86/kernel"
    (k / "latin1.c").write_bytes(b"/* caf\xe9 */\nvoid f(void) { pv_ops.cpu.io_delay = latin_delay; }\n")
    (k / "blob.h").write_bytes(b"pv_ops\0\0\0binary")
    (k / "huge.c").write_bytes(b"/* pv_ops */\n" + b"int a;\n" * 1_300_000)
    os.symlink("../..", tree / "arch/x86/loop")
    os.symlink("/etc/passwd", k / "escape.h")
    os.symlink("../../../../outside.c", k / "outside.c")
    (tmp_path / "outside.c").write_text("void g(void) { pv_ops.cpu.io_delay = outside_delay; }\n")
    return tree


@pytest.mark.parametrize("engine", ["rg", "python"])
def test_hostile_files_warn_and_the_scan_goes_on(hostile_tree, engine):
    env = {"PVSCAN_NO_RIPGREP": "1"} if engine == "python" else {}
    proc = pvscan("scan", str(hostile_tree), "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "arch/x86/kernel/blob.h: skipped: binary file" in proc.stderr
    assert "arch/x86/kernel/huge.c: skipped: file is" in proc.stderr
    assert "arch/x86/kernel/latin1.c:1: not UTF-8" in proc.stderr
    doc = json.loads(proc.stdout)
    io_delay = next(o for o in doc["ops"] if o["name"] == "cpu.io_delay")
    functions = {i["function"] for i in io_delay["implementations"]}
    assert "latin_delay" in functions
    assert "outside_delay" not in functions


def test_help_and_version_are_quick_and_clean():
    assert pvscan("--version").stdout.startswith("pvscan ")
    proc = pvscan()
    assert proc.returncode == 2 and "scan" in proc.stderr


def test_internal_error_is_one_line_and_exit_3(monkeypatch, capsys):
    """A bug in pvscan is not the user's mistake: exit 3, one line, the traceback only with --debug."""
    import pvscan.pipeline
    from pvscan.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(pvscan.pipeline, "inventory_of", broken)
    assert main(["scan", str(GEN3)]) == 3
    err = capsys.readouterr().err
    assert err == "pvscan: internal error: RuntimeError: a bug over two lines; rerun with --debug for the traceback\n"
    with pytest.raises(RuntimeError):
        main(["--debug", "scan", str(GEN3)])


def test_without_ripgrep_the_python_search_says_so_once_and_finds_the_same(monkeypatch, tmp_path, capsys):
    import sysconfig

    from pvscan.source import search
    from pvscan.source.directory import KernelTree

    fast = search.find_table_candidates(KernelTree(GEN3), [])
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    run = Run()
    assert search.ripgrep(run) is None and search.ripgrep(run) is None
    assert capsys.readouterr().err.count("ripgrep (rg) not found") == 1
    assert search.find_table_candidates(KernelTree(GEN3), []) == fast


def test_a_directory_inside_the_tree_stands_for_the_tree():
    # Like git: from arch/x86/kernel of a checkout, with no PATH or with '.', the checkout is scanned.
    top = fixture_tree("gen3-unified")
    whole = pvscan("scan", str(top), "--format", "json")
    inside = pvscan("scan", "--format", "json", cwd=top / "arch" / "x86" / "kernel")
    dotted = pvscan("scan", ".", "--format", "json", cwd=top / "arch" / "x86")
    assert whole.returncode == inside.returncode == dotted.returncode == 0
    strip = lambda text: json.loads(text)["ops"]   # noqa: E731 - the tree's display path differs
    assert strip(inside.stdout) == strip(dotted.stdout) == strip(whole.stdout)
    checked = pvscan("check", "--abi", "xen-pv", "--fail-on", "never", cwd=top / "arch")
    assert checked.returncode == 0 and "Coverage" in checked.stdout


def test_outside_any_tree_one_line_says_so(tmp_path):
    run = pvscan("scan", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith("pvscan: error: .: not a Linux kernel tree") and len(run.stderr.splitlines()) == 1


def test_abi_names_in_any_case_and_a_suggestion_for_a_near_one():
    gen3 = str(fixture_tree("gen3-unified"))
    upper = pvscan("check", gen3, "--abi", "XEN-PV", "--fail-on", "never")
    assert upper.returncode == 0 and "xen-pv" in upper.stdout
    for typed, meant in (("xen", "xen-pv"), ("kvm64", "kvm"), ("Hyper-V", "hyperv")):
        run = pvscan("check", gen3, "--abi", typed)
        assert run.returncode == 2
        assert run.stderr.rstrip().endswith(f"did you mean {meant}?"), run.stderr


def test_the_manual_page_is_the_parsers():
    # scripts/make-manpage writes man/pvscan.1 from build_parser(): the committed page is current.
    from pvscan import __version__
    from pvscan.cli import build_parser
    from pvscan.completion import manpage

    committed = (Path(__file__).parent.parent / "man" / "pvscan.1").read_text()
    assert manpage(build_parser(), __version__) == committed
    assert ".SS pvscan check" in committed and "\\fB\\-\\-abi\\fR \\fINAME|FILE\\fR" in committed


def _shell_env():
    """The environment a user's shell has: this pvscan first on PATH and importable."""
    path = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "PYTHONPATH": str(Path(__file__).parent.parent)}


def _bash_complete(script, words, cwd):
    line = " ".join(words)
    program = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _pvscan; "
               'printf "%s\\n" "${COMPREPLY[@]}"')
    return subprocess.run(["bash", "-c", program], capture_output=True, text=True, cwd=cwd,
                          env=_shell_env()).stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")
def test_bash_completion_offers_commands_abis_formats_and_the_trees_ops(tmp_path):
    script = tmp_path / "pvscan.bash"
    run = pvscan("completion", "bash")
    assert run.returncode == 0
    script.write_text(run.stdout)
    here = fixture_tree("gen3-unified") / "arch" / "x86"
    assert _bash_complete(script, ["pvscan", "ch"], here) == ["check"]
    assert "xen-pv" in _bash_complete(script, ["pvscan", "check", "--abi", "xe"], here)
    assert _bash_complete(script, ["pvscan", "check", "--format", "s"], here) == ["sarif"]
    assert _bash_complete(script, ["pvscan", "check", "--fail"], here) == ["--fail-on"]
    # pvscan completion ops scans the tree the shell is in (from a directory inside it).
    assert _bash_complete(script, ["pvscan", "scan", "--op", "mmu.set_pt"], here) == ["mmu.set_pte"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="no fish on this machine (apt-get install fish)")
def test_fish_completion_offers_the_same(tmp_path):
    script = tmp_path / "pvscan.fish"
    script.write_text(pvscan("completion", "fish").stdout)
    here = fixture_tree("gen3-unified") / "arch" / "x86"
    program = f"source {script}; complete -C'pvscan check --format '; complete -C'pvscan scan --op mmu.set_pt'"
    out = subprocess.run(["fish", "-c", program], capture_output=True, text=True, cwd=here, env=_shell_env()).stdout
    assert [line.split("\t")[0] for line in out.splitlines()] == ["json", "sarif", "text", "mmu.set_pte"]


def test_zsh_completion_is_the_bash_one_through_bashcompinit():
    run = pvscan("completion", "zsh")
    assert run.returncode == 0 and run.stdout.startswith("#compdef pvscan\n")
    assert "bashcompinit" in run.stdout and "complete -o filenames -F _pvscan pvscan" in run.stdout
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=run.stdout, text=True).returncode == 0


def test_docs_cli_tabulates_the_options_the_parser_has():
    from pvscan.cli import build_parser
    from pvscan.completion import options_table

    doc = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    assert options_table(build_parser()) in doc


def test_quiet_and_verbose_on_every_command():
    gen3 = str(fixture_tree("gen3-unified"))
    quiet = pvscan("check", gen3, "--abi", "xen-pv", "--fail-on", "never", "-q")
    loud = pvscan("check", gen3, "--abi", "xen-pv", "--fail-on", "never")
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == "" and "Coverage" not in quiet.stdout
    assert quiet.stdout.strip().splitlines()[-1] == loud.stdout.strip().splitlines()[-1]   # the verdict
    assert not [line for line in quiet.stdout.splitlines() if ": warning: " in line or ": note: " in line]
    # The verdict names what the run hid: the warnings' codes, and how to read about them.
    assert "passes" not in loud.stdout and "explains the warnings' PV006" in loud.stdout.splitlines()[-1]
    verbose = pvscan("check", gen3, "--abi", "xen-pv", "--fail-on", "never", "-v")
    assert "pvscan: read: ABI xen-pv (bundled): " in verbose.stderr
    assert "op(s) in" in verbose.stderr
    for argv in (["scan", gen3], ["abi", "list"], ["rules"], ["completion", "bash"], ["report", gen3]):
        for flag in ("-q", "-v"):
            assert pvscan(*argv, flag).returncode == 0, (argv, flag)
    assert pvscan("scan", gen3, "-q", "-v").returncode == 2       # one or the other


def test_a_report_asked_for_on_a_terminal_goes_to_a_file_the_message_names(tmp_path):
    # A page of HTML is no answer on a terminal; a pipe or -o gets it as before.
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "pvscan", "report", GEN3], stdout=follower,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    os.close(follower)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "pvscan-report.html"
    assert f"pvscan: wrote the report to {written}; open it in a browser" in proc.stderr
    assert written.read_text().lstrip().lower().startswith("<!doctype html>")
    piped = pvscan("report", GEN3)
    assert piped.stdout.lstrip().lower().startswith("<!doctype html>")


def test_the_text_puts_errors_first_and_ends_with_a_verdict_to_act_on():
    gen3 = str(fixture_tree("gen3-unified"))
    run = pvscan("check", gen3, "--abi", "vmi", "--abi", "xen-pv")
    lines = [line for line in run.stdout.splitlines() if ": PV" in line]
    ranks = [("note", "warning", "error").index(line.split(": ")[1]) for line in lines]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] == 2, run.stdout
    # A bundled ABI is named as people say it; the machine formats keep the path.
    assert any(line.startswith("vmi (bundled):") for line in lines)
    assert '"file": "<bundled>/vmi.toml"' in pvscan("check", gen3, "--abi", "vmi", "--format", "json").stdout
    last = run.stdout.splitlines()[-1]
    assert run.returncode == 1 and ": fails at --fail-on error; 'pvscan rules " in last, last
    never = pvscan("check", gen3, "--abi", "xen-pv", "--fail-on", "never").stdout.splitlines()[-1]
    assert "fail" not in never and "pass" not in never
    painted = pvscan("check", gen3, "--abi", "vmi", "--color", "always").stdout
    assert "\x1b[1;31merror\x1b[0m: PV" in painted and "\x1b[" not in run.stdout


def test_a_feature_whose_extra_is_missing_says_what_to_install():
    # libclang and Dask are the extras 'precise' and 'cluster': without them the main job runs,
    # and the feature that needs one is one line naming it, exit 2.
    blocker = ("import sys, importlib.abc\n"
               "class Block(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('clang', 'distributed'):\n"
               "            raise ModuleNotFoundError(name)\n"
               "sys.meta_path.insert(0, Block())\n"
               "from pvscan.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    gen3 = str(fixture_tree("gen3-unified"))

    def run(*argv):
        return subprocess.run([sys.executable, "-c", blocker, *argv], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})

    assert run("scan", gen3).returncode == 0
    precise = run("check", gen3, "--abi", "xen-pv", "--precise")
    assert precise.returncode == 2 and precise.stderr == (
        "pvscan: error: --precise needs the 'precise' extra, which is not installed: pip install 'pvscan[precise]'\n")
    cluster = run("history", gen3, gen3, "--scheduler", "tcp://127.0.0.1:1")
    assert cluster.returncode == 2 and cluster.stderr.strip().endswith("pip install 'pvscan[cluster]'"), cluster.stderr
