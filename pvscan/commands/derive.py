"""pvscan derive-abi BACKEND [PATH]: a skeleton ABI file from the backend's glue code."""

from __future__ import annotations

from typing import TYPE_CHECKING


from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError
from pvscan.commands.scanning import scan_with_options
from pvscan.talk import Talk

if TYPE_CHECKING:
    from argparse import Namespace
    from pvscan.run import Run


def main(args: Namespace, run: Run) -> int:
    from pvscan.checks.derive import TARGET_CONFIG, backend_target, skeleton
    from pvscan.checks.glue import MAX_DEPTH, backend_arch, derive, read_glue
    from pvscan.checks.sharedmem import derive_areas
    from pvscan.identity import same_arch
    from pvscan.source.directory import KernelTree

    tree = KernelTree(args.tree, run)
    refuse_writes_into([tree], args.output)
    result = scan_with_options(args, tree)
    backends = sorted({b for (_, b) in result.inventory.backends})
    if args.derived not in backends:
        raise PvscanError(f"no backend {args.derived!r} in this tree (backends: {', '.join(backends)})", args.tree)
    arches = sorted({a for (a, b) in result.inventory.backends if b == args.derived})
    arch = args.arch or backend_arch(result.inventory, args.derived)
    if not any(same_arch(a, arch) for a in arches):
        raise PvscanError(f"backend {args.derived!r} has no glue on {arch} (its architectures: {', '.join(arches)})",
                          args.tree)
    glue = read_glue(tree, result.inventory, args.derived, arch=arch)
    # Glue that binds calls under CONFIG_X86_PAE (VMI's SetPxELong) is derived for PAE, the
    # configuration VMware shipped; the non-PAE calls then drop out.
    pae = glue.rom.guarded_by("CONFIG_X86_PAE")
    # The glue is read again for the target the skeleton names: a function defined once per
    # configuration (lguest_set_pmd under CONFIG_X86_PAE and not) is the target's.
    target, _ = backend_target(tree, result.inventory, args.derived, pae, arch)
    glue = read_glue(tree, result.inventory, args.derived, TARGET_CONFIG.get(target), arch)
    derived, files = derive(tree, result.inventory, args.derived, glue=glue)
    areas = derive_areas(tree, result.inventory, glue, MAX_DEPTH)
    text = skeleton(tree, result.inventory, args.derived, derived, files, pae, areas, arch)
    talk = Talk.of(args)
    talk.scanned(result)
    talk.read(f"glue of {args.derived} on {arch}: {len(files)} file(s), target {target}")
    talk.warnings(result.warnings)
    write_output(text, args.output)
    return 0


def backend_to_derive(args: Namespace) -> None:
    """args.derived: the backend to derive (BACKEND), with --backend PATTERN=NAME as on every
    command. The spelling of 0.x, 'derive-abi --backend NAME [PATH]', still works, with a note:
    a --backend without '=' names the backend, and a lone positional is then the tree. Run by
    the command line before the tree argument is resolved (cli._to_tree_tops)."""
    names = [b for b in args.backend if "=" not in b]
    args.backend = [b for b in args.backend if "=" in b]
    if len(names) > 1 or (names and args.derived is not None and args.tree is not None):
        given = names + ([args.derived] if args.derived else [])
        raise PvscanError(f"name one backend to derive (given: {', '.join(given)})")
    if names:
        if args.derived is not None:
            args.tree = args.derived
        args.derived = names[0]
        Talk.of(args).note(f"note: 'derive-abi --backend {names[0]}' is now 'derive-abi {names[0]} [PATH]'")
    if args.derived is None:
        raise PvscanError("name the backend to derive: pvscan derive-abi BACKEND [PATH] (xen, kvm, vmi ...)")
    if args.tree is None:
        args.tree = "."
