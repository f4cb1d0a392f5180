"""pvscan: static analysis of Linux paravirt_ops.

Stages, one module each, data flowing one way:

    tree.py        a kernel checkout, read safely
    candidates.py  the files that can matter (text prefilter)
    preprocess.py  directives and annotation macros blanked, guards computed
    parse.py       tree-sitter -> per-file facts (facts.py)
    inventory.py   facts -> ops, call sites, wrappers, implementations
    callers.py     callers of the wrappers across the tree
    report/        formatting only
"""

__version__ = "0.1.0"
