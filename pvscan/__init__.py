"""pvscan: static analysis of Linux paravirt_ops.

Data flows one way, one folder per stage (each __init__ says what it takes
and gives):

    source/      a tree: a directory, a git commit, or either with patches applied
    facts/       one file's bytes -> FileFacts (preprocess, tree-sitter)
    inventory/   every file's facts -> the Inventory, by pure passes
    checks/      the inventory against declared ABIs (abi/) -> findings
    review/      a patch -> what it changes, as findings on its lines
    history/     many revisions -> each op's lineage, and what each ABI lacked
    report/      formatting only
    commands/    the command line, one thin module per command

pipeline.py is the one way from a source to an inventory; api.py is pvscan as a library
(pvscan.scan, pvscan.check, pvscan.api.review; docs/api.md), what the commands call.
"""

__version__ = "0.1.0"
__all__ = ["Run", "check", "scan"]


def __getattr__(name: str):
    # Imported when first asked for: 'import pvscan' (and pvscan --help) stays quick.
    if name in ("scan", "check"):
        from pvscan import api

        return getattr(api, name)
    if name == "Run":
        from pvscan.run import Run

        return Run
    raise AttributeError(f"module 'pvscan' has no attribute {name!r}")
