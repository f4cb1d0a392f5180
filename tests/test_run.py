"""A run is an object: what one invocation learns lives on its Run, never in a module."""

import ast
import os
import pathlib
import subprocess
import sys
import threading

import pvscan
from conftest import fixture_tree

PACKAGE = pathlib.Path(pvscan.__file__).parent
_CONTAINERS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "bytearray"}
_MUTATORS = {"append", "add", "clear", "discard", "extend", "insert", "pop", "popitem", "remove",
             "setdefault", "update", "appendleft", "popleft", "sort", "reverse", "__setitem__"}


def _module_containers(tree: ast.Module) -> set[str]:
    """The names a module binds, at its top level, to a mutable container."""
    names = set()
    for node in tree.body:
        targets, value = [], None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        mutable = isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)) or (
            isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", None)) in _CONTAINERS)
        if mutable:
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _writes_to_process_state(path: pathlib.Path) -> list[str]:
    """Each 'global', and each write (a mutating call, an item assigned or deleted) into a container
    the module holds at its top level, inside any function: state that outlives the run."""
    tree = ast.parse(path.read_text())
    shared = _module_containers(tree)
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Global):
                found.append(f"{path.name}:{node.lineno}: global {', '.join(node.names)}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in shared \
                    and node.func.attr in _MUTATORS:
                found.append(f"{path.name}:{node.lineno}: {node.func.value.id}.{node.func.attr}()")
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                    and isinstance(node.value, ast.Name) and node.value.id in shared:
                found.append(f"{path.name}:{node.lineno}: {node.value.id}[...] written")
    return found


def test_no_module_holds_what_a_run_learns():
    """No 'global', and no container at a module's top level is written after import. (Memoized
    pure functions, lru_cache, are not state: their answers depend on their arguments alone.)"""
    found = [w for path in sorted(PACKAGE.rglob("*.py")) for w in _writes_to_process_state(path)]
    assert found == []


def test_the_check_sees_the_writes_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("_seen = {}\n_told: set = set()\nflag = False\n"
                      "def f(k):\n    global flag\n    flag = True\n    _seen[k] = 1\n    _told.add(k)\n"
                      "def g(k):\n    return _seen.get(k)\n")
    assert _writes_to_process_state(sample) == ["sample.py:5: global flag", "sample.py:7: _seen[...] written",
                                               "sample.py:8: _told.add()"]


def test_two_scans_at_once_in_one_process_each_give_their_own_tree(tmp_path, monkeypatch):
    """Two trees scanned on two threads of one process, sharing one cache, give what two
    processes give: the run of one never answers for the other."""
    from pvscan.cli import main

    monkeypatch.setenv("PVSCAN_CACHE_DIR", str(tmp_path / "cache"))
    trees = [str(fixture_tree("gen3-unified")), str(fixture_tree("gen4-named"))]
    alone = [subprocess.run([sys.executable, "-m", "pvscan", "scan", t, "--format", "json", "--callers", "-j", "1"],
                            capture_output=True, text=True, check=True,
                            env=dict(os.environ, PVSCAN_NO_CACHE="1")).stdout for t in trees]
    assert alone[0] != alone[1]
    for round in range(3):      # the second and third rounds read what the first put in the cache
        outputs = [tmp_path / f"{round}-{i}.json" for i in range(2)]
        codes = [None, None]
        start = threading.Barrier(2)

        def scan(i):
            start.wait()
            codes[i] = main(["scan", trees[i], "--format", "json", "--callers", "-j", "1", "-o", str(outputs[i])])

        threads = [threading.Thread(target=scan, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [0, 0]
        assert [o.read_text() for o in outputs] == alone


def test_a_run_is_gone_when_its_command_returns(tmp_path, monkeypatch):
    """What a command's run learnt (git's answers, the trees it read) is not there for the next."""
    from pvscan.run import Run
    from pvscan.source.git import open_repo

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    first, second = Run(), Run()
    open_repo(first, str(repo))
    assert str(repo) in first.git_places and second.git_places == {}
