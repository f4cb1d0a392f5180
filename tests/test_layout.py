"""The package's shape: stages in folders, data flowing one way, no side doors between modules."""

import ast
import collections
import pathlib
import subprocess
import sys

import pvscan

PACKAGE = pathlib.Path(pvscan.__file__).parent
STAGES = ("source", "facts", "inventory", "checks", "review", "history", "report", "commands")


def _modules():
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("pvscan",) + path.relative_to(PACKAGE).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(modules):
    """{module: {(imported module, name)}} for every 'from pvscan... import name', lazy ones too,
    but not those under 'if TYPE_CHECKING:': they name types for annotations and never run."""
    out = collections.defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for_types = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                     and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                     for n in ast.walk(block)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pvscan")
                    and id(node) not in for_types):
                out[name] |= {(node.module, a.name) for a in node.names}
    return out


def test_every_stage_folder_says_what_it_takes_and_gives():
    for stage in STAGES:
        init = PACKAGE / stage / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"pvscan/{stage}/__init__.py has no docstring"


def test_no_module_imports_another_modules_private_name():
    private = [(m, f"{src}.{n}") for m, names in _imports(_modules()).items()
               for src, n in names if n.startswith("_") and not n.startswith("__")]
    assert private == []


def test_no_import_cycles():
    modules = _modules()
    graph = {m: {f"{src}.{n}" if f"{src}.{n}" in modules else src for src, n in names}
             for m, names in _imports(modules).items()}
    cycles = []

    def visit(node, path):
        for nxt in graph.get(node, ()):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < 40:
                visit(nxt, path + [nxt])

    for m in graph:
        visit(m, [m])
    assert cycles == []


def test_reporters_never_import_a_stage_that_computes():
    """Reporters format what the stages computed: they import no pipeline, inventory pass or check."""
    computing = ("pvscan.pipeline", "pvscan.inventory.build", "pvscan.checks.check", "pvscan.review.review",
                 "pvscan.history.lineage", "pvscan.history.run")
    for m, names in _imports(_modules()).items():
        if m.startswith("pvscan.report"):
            assert not [src for src, _ in names if src.startswith(computing)], m


def test_help_imports_no_heavy_module():
    """pvscan is run per patch by b4 and per commit by pre-commit: --help must stay quick."""
    code = ("import sys; from pvscan.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tree_sitter', 'clang', 'distributed', 'dask', 'pygments')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_rule_is_named_by_its_object_never_by_its_code_elsewhere():
    """'PV002' spelled outside pv002_*.py is a second place to change when the rule does; what
    the stages count (constrains, changes_interface ...) is declared on the rule itself."""
    import re

    code = re.compile(r"PV\d{3}")
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = re.match(r"pv(\d{3})_", path.name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and code.fullmatch(node.value):
                if not (own and node.value == f"PV{own.group(1)}") and path.name != "rule.py":
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value}")
    assert found == []


def test_every_function_is_one_a_reader_can_hold():
    """McCabe complexity as ruff's C901 counts it: none over 15, at most 8 over 10. A function
    past that is split by what it does (the ABI parser by table, the preprocessor by directive)."""
    import json
    import re

    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", "C901",
                           "--config", "lint.mccabe.max-complexity=10", "--output-format", "json", str(PACKAGE)],
                          capture_output=True, text=True)
    over = {f"{pathlib.Path(d['filename']).relative_to(PACKAGE)}: {d['message']}":
            int(re.search(r"\((\d+) > 10\)", d["message"]).group(1)) for d in json.loads(proc.stdout)}
    assert [name for name, n in over.items() if n > 15] == []
    assert len(over) <= 8, sorted(over)


def test_parameters_and_returns_are_annotated():
    """At least 95 % of the package's parameters (self and cls aside) and of its functions'
    returns carry an annotation: what mypy checks is most of the code, not a corner of it."""
    params = annotated_params = returns = annotated_returns = 0
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                named = [a for i, a in enumerate(args) if not (i == 0 and a.arg in ("self", "cls"))]
                named += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
                params += len(named)
                annotated_params += sum(a.annotation is not None for a in named)
                returns += 1
                annotated_returns += node.returns is not None
    assert annotated_params >= 0.95 * params, f"{annotated_params} of {params} parameters annotated"
    assert annotated_returns >= 0.95 * returns, f"{annotated_returns} of {returns} returns annotated"


def test_the_package_type_checks(tmp_path):
    """mypy, with the settings and the pinned version pyproject.toml gives, finds no error in
    the package (its own cache in a temporary folder: nothing is written into the checkout)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy")],
                          cwd=PACKAGE.parent, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_cache_imports_nothing_above_it():
    """One store per kind of fact, declared by the layer that makes it: the cache holds what the
    stores share and imports no stage (it imported source.files back, against the layers)."""
    imported = {src for src, _ in _imports(_modules())["pvscan.cache"]}
    assert imported <= {"pvscan.run"}
