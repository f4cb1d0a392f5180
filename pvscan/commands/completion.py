"""pvscan completion bash|zsh|fish: a completion script; pvscan completion ops: the op names
of the tree the current directory is in, for the scripts to offer after --op."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sys

from pvscan.errors import PvscanError

if TYPE_CHECKING:
    from argparse import Namespace
    from pvscan.run import Run


def main(args: Namespace, run: Run) -> int:
    from pvscan import completion
    from pvscan.cli import build_parser

    if args.shell == "ops":
        return _ops(args, run)
    script = {"bash": completion.bash_script, "zsh": completion.zsh_script,
              "fish": completion.fish_script}[args.shell](build_parser())
    sys.stdout.write(script)
    return 0


def _ops(args: Namespace, run: Run) -> int:
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    try:
        result = scan(KernelTree(args.tree, run), callers=False)
    except PvscanError:
        return 0       # outside a tree there is nothing to offer, and nothing to say mid-completion
    for name in sorted({o.name for o in result.inventory.ops}):
        print(name)
    return 0
