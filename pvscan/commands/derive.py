"""pvscan derive-abi --backend NAME PATH: a skeleton ABI file from the backend's glue code."""

from __future__ import annotations

import sys

from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError, print_warnings


def run(args) -> int:
    from pvscan.checks.derive import skeleton
    from pvscan.checks.glue import derive, rom_calls
    from pvscan.inventory.backends import build_backend_map
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    tree = KernelTree(args.tree)
    refuse_writes_into([tree], args.output)
    result = scan(tree, backend_map=build_backend_map(args.backend_map, args.backend_rule), callers=False)
    backends = sorted({b for (_, b) in result.inventory.backends})
    if args.backend not in backends:
        raise PvscanError(f"no backend {args.backend!r} in this tree (backends: {', '.join(backends)})", args.tree)
    derived, files = derive(tree, result.inventory, args.backend)
    # Glue that binds calls under CONFIG_X86_PAE (VMI's SetPxELong) is derived for PAE, the
    # configuration VMware shipped; the non-PAE calls then drop out.
    pae = rom_calls(tree, files).guarded_by("CONFIG_X86_PAE")
    if pae:
        derived, files = derive(tree, result.inventory, args.backend, {"CONFIG_X86_PAE": True})
    text = skeleton(tree, result.inventory, args.backend, derived, files, pae)
    print_warnings(result.warnings, sys.stderr)
    write_output(text, args.output)
    return 0
