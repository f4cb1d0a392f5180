"""Fuzzing the inputs pvscan takes from others: C files in the tree, ABI files, baselines, patches.

For every generated input the promises of docs/bad-input.md hold: the exit
code is 0, 1 or 2; nothing is an internal error or a traceback; nothing is
written but the requested output; the tree is unchanged. Inputs are made
by hypothesis from kernel-like pieces (directives, annotations, tables,
initializers, hunk headers ...) and from mutations of valid files, so that
they reach deep into the parsers instead of failing at the first byte.
"""

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, fixture_tree

GEN3 = fixture_tree("gen3-unified")
TOY = (FIXTURES / "abi" / "toy-gen3.toml").read_text()
TYPES = "arch/x86/include/asm/paravirt_types.h"

FUZZ = settings(max_examples=int(os.environ.get("PVSCAN_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run(*argv, cache):
    """pvscan in this process (no interpreter start per example): (exit code, stdout, stderr)."""
    from pvscan.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("PVSCAN_CACHE_DIR")
    os.environ["PVSCAN_CACHE_DIR"] = str(cache)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as e:       # argparse
                code = e.code
    finally:
        if old is None:
            del os.environ["PVSCAN_CACHE_DIR"]
        else:
            os.environ["PVSCAN_CACHE_DIR"] = old
    return code, out.getvalue(), err.getvalue()


def fingerprint(root: Path) -> dict:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(path.relative_to(root))] = "dir" if path.is_dir() else "other"
    return out


def keeps_promises(code, err, *, allowed=(0, 1, 2)):
    assert code in allowed, err
    assert "internal error" not in err and "Traceback" not in err, err
    for line in err.splitlines():
        assert line.startswith("pvscan"), err


@contextlib.contextmanager
def workspace(tree=GEN3):
    """A copy of the fixture tree, a cache and an output folder, all temporary."""
    with tempfile.TemporaryDirectory(prefix="pvscan-fuzz-") as tmp:
        root = Path(tmp)
        shutil.copytree(tree, root / "tree")
        (root / "cache").mkdir()
        (root / "out").mkdir()
        yield root


# -- C in the tree -----------------------------------------------------------------------------

IDENT = st.sampled_from(["pv_ops", "pv_cpu_ops", "pv_mmu_ops", "paravirt_ops", "pv_info", "mmu", "cpu",
                         "set_pte", "read_cr2", "xen_set_pte", "native_foo", "x", "func", "lazy_mode"])
PIECE = st.one_of(
    st.sampled_from([
        "#ifdef CONFIG_PARAVIRT_XXL\n", "#if defined(CONFIG_X86_64) && CONFIG_PGTABLE_LEVELS >= 5\n",
        "#else\n", "#elif CONFIG_SMP\n", "#endif\n", "#if 0\n", "#define X(a) pv_ops.a = a\n",
        "#define PTE_IDENT __PV_IS_CALLEE_SAVE(_paravirt_ident_64)\n", "__initconst ", "__ro_after_init ",
        "__aligned(64) ", "__attribute__((unused)) ", "struct paravirt_patch_template pv_ops = {\n",
        "static const typeof(pv_ops) xen_ops __initconst = {\n", "struct pv_cpu_ops {\n", "};\n", "}\n",
        "\tvoid (*set_pte)(pte_t *ptep, pte_t pte);\n", "\tstruct paravirt_callee_save read_cr2;\n",
        "\t.mmu.set_pte = xen_set_pte,\n", "\t.cpu = {\n", "PVOP_VCALL2(mmu.set_pte, a, b);\n",
        "PVOP_ALT_CALLEE1(unsigned long, mmu.read_cr2, \"mov %cr2, %rax\", ALT_NOT_XEN);\n",
        "pv_ops.mmu = xen_mmu_ops.mmu;\n", "void f(void) {\n", "/* ", " */\n", "// x\n", "\"", "'", "(", ")",
        "{", "}", ",", ";", "\\\n", "\n",
    ]),
    IDENT.map(lambda s: s + " "),
    st.binary(max_size=12).map(lambda b: b.decode("latin-1")),
)
C_FILE = st.lists(PIECE, max_size=60).map("".join)


@FUZZ
@given(header=C_FILE, source=C_FILE, raw=st.binary(max_size=200))
def test_any_c_in_the_tree_is_read_or_skipped_never_a_crash(header, source, raw):
    with workspace() as root:
        tree = root / "tree"
        (tree / "arch/x86/include/asm/fuzz.h").write_text(header, encoding="latin-1")
        (tree / "arch/x86/xen/fuzz.c").write_text(source, encoding="latin-1")
        (tree / "arch/x86/kernel/raw.c").write_bytes(b"pv_ops " + raw)
        before = fingerprint(tree)
        code, out, err = run("scan", tree, "--format", "json", "-j", "1", "-o", root / "out" / "s.json",
                             cache=root / "cache")
        # 1: the scan could not place what the tree calls (an empty 'struct pv_cpu_ops {};' in a
        # header of its own hides the real one), said so, and wrote what it read (docs/scan.md).
        keeps_promises(code, err, allowed=(0, 1, 2))
        assert fingerprint(tree) == before
        assert sorted(p.name for p in (root / "out").iterdir()) == (["s.json"] if code in (0, 1) else [])


# -- ABI files -------------------------------------------------------------------------------------

TOY_LINES = TOY.splitlines()
LINE = st.integers(min_value=0, max_value=len(TOY_LINES) - 1)
TOML_VALUE = st.sampled_from(['"x"', "1", "-3", "true", "[]", '["msr"]', "[[1]]", "{a = 1}", "[1, {a = 1}]",
                              "1e999", "\"\\u0000\"", "[" * 40 + "]" * 40, "0x10", "\"" + "y" * 300 + "\""])


@st.composite
def abi_files(draw):
    lines = list(TOY_LINES)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(LINE) % len(lines)
        action = draw(st.sampled_from(["drop", "retype", "duplicate", "garble"]))
        if action == "drop":
            del lines[i]
        elif action == "retype" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(TOML_VALUE)
        elif action == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i] = draw(st.text(max_size=20))
        if not lines:
            break
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=abi_files())
def test_any_abi_file_is_checked_or_refused_in_one_line(text):
    with workspace() as root:
        abi = root / "out" / "abi.toml"
        abi.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = fingerprint(root / "tree")
        code, out, err = run("check", root / "tree", "--abi", abi, "--format", "sarif", "-j", "1",
                             cache=root / "cache")
        keeps_promises(code, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1
        assert fingerprint(root / "tree") == before


# -- baselines -------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=20)


@FUZZ
@given(doc=st.one_of(JSON, st.fixed_dictionaries({"schema": st.just("pvscan-baseline/1"), "findings": JSON})),
       raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_any_baseline_is_taken_or_refused_in_one_line(doc, raw):
    import json

    with workspace() as root:
        base = root / "out" / "base.json"
        base.write_bytes(raw if raw is not None else json.dumps(doc).encode())
        code, out, err = run("check", root / "tree", "--abi", "xen-pv", "--baseline", base, "-j", "1",
                             cache=root / "cache")
        keeps_promises(code, err)


# -- patches ----------------------------------------------------------------------------------------

def _valid_patch() -> list[str]:
    types = (GEN3 / TYPES).read_text().splitlines()
    at = next(i for i, line in enumerate(types) if "(*set_pmd)(" in line)
    return [f"diff --git a/{TYPES} b/{TYPES}", f"--- a/{TYPES}", f"+++ b/{TYPES}",
            f"@@ -{at},3 +{at},4 @@", f" {types[at - 1]}", f" {types[at]}",
            "+\tvoid (*enter_mmap)(struct mm_struct *mm);", f" {types[at + 1]}"]


PATCH_LINE = st.sampled_from([
    "@@ -1,2 +1,2 @@", "@@ -x69,7 +1 @@", "@@@ -1 -1 +1 @@@", "@@ -5 +5 @@", "--- a/x.c", "+++ b/x.c",
    "--- /dev/null", "diff --git \"a/\\303\\274.c\" \"b/\\303\\274.c\"", "diff --git a/x", "new file mode 100644",
    "deleted file mode 100644", "rename from a.c", "rename to ../../etc/passwd", "Binary files a and b differ",
    "\\ No newline at end of file", "-\tvoid (*set_pte)(pte_t *ptep, pte_t pteval);", "+}", " ", "",
    "From 1234 Mon Sep 17 00:00:00 2001", "Subject: [PATCH] x", "diff --git a/../x.c b/../x.c",
])


@st.composite
def patches(draw):
    lines = _valid_patch()
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        i = draw(st.integers(min_value=0, max_value=len(lines)))
        action = draw(st.sampled_from(["insert", "drop", "replace"]))
        if action == "insert" or not lines:
            lines.insert(i, draw(st.one_of(PATCH_LINE, st.text(max_size=30))))
        elif action == "drop":
            del lines[min(i, len(lines) - 1)]
        else:
            lines[min(i, len(lines) - 1)] = draw(PATCH_LINE)
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=patches(), fmt=st.sampled_from(["text", "sarif", "github", "checkpatch", "reply"]))
def test_any_patch_is_reviewed_or_refused_in_one_line(text, fmt):
    with workspace() as root:
        patch = root / "out" / "p.diff"
        patch.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = fingerprint(root / "tree")
        code, out, err = run("review", "--tree", root / "tree", "--format", fmt, patch, cache=root / "cache")
        keeps_promises(code, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1
        assert fingerprint(root / "tree") == before
        assert sorted(p.name for p in (root / "out").iterdir()) == ["p.diff"]


@pytest.mark.parametrize("fmt", ["sarif", "gitlab", "rdjson", "patchwork"])
def test_the_machine_formats_stay_json_on_a_patch_that_is_refused(tmp_path, fmt):
    """A patch that cannot be read is exit 2 with nothing on stdout: never half a document."""
    bad = tmp_path / "p.diff"
    bad.write_text("\n".join(_valid_patch()[:4]) + "\n")     # a hunk header with no lines
    code, out, err = run("review", "--tree", GEN3, "--format", fmt, bad, cache=tmp_path / "cache")
    assert code == 2 and out == "" and "corrupt patch" in err
