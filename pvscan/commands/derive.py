"""pvscan derive-abi --backend NAME PATH: a skeleton ABI file from the backend's glue code."""

from __future__ import annotations


from pvscan.commands.output import refuse_writes_into, write_output
from pvscan.errors import PvscanError
from pvscan.talk import Talk


def run(args) -> int:
    from pvscan.checks.derive import TARGET_CONFIG, backend_target, skeleton
    from pvscan.checks.glue import MAX_DEPTH, backend_arch, derive, read_glue
    from pvscan.checks.sharedmem import derive_areas
    from pvscan.identity import same_arch
    from pvscan.inventory.backends import build_backend_map
    from pvscan.pipeline import scan
    from pvscan.source.directory import KernelTree

    tree = KernelTree(args.tree)
    refuse_writes_into([tree], args.output)
    result = scan(tree, backend_map=build_backend_map(args.backend_map, args.backend_rule), callers=False)
    backends = sorted({b for (_, b) in result.inventory.backends})
    if args.backend not in backends:
        raise PvscanError(f"no backend {args.backend!r} in this tree (backends: {', '.join(backends)})", args.tree)
    arches = sorted({a for (a, b) in result.inventory.backends if b == args.backend})
    arch = args.arch or backend_arch(result.inventory, args.backend)
    if not any(same_arch(a, arch) for a in arches):
        raise PvscanError(f"backend {args.backend!r} has no glue on {arch} (its architectures: {', '.join(arches)})",
                          args.tree)
    glue = read_glue(tree, result.inventory, args.backend, arch=arch)
    # Glue that binds calls under CONFIG_X86_PAE (VMI's SetPxELong) is derived for PAE, the
    # configuration VMware shipped; the non-PAE calls then drop out.
    pae = glue.rom.guarded_by("CONFIG_X86_PAE")
    # The glue is read again for the target the skeleton names: a function defined once per
    # configuration (lguest_set_pmd under CONFIG_X86_PAE and not) is the target's.
    target, _ = backend_target(tree, result.inventory, args.backend, pae, arch)
    glue = read_glue(tree, result.inventory, args.backend, TARGET_CONFIG.get(target), arch)
    derived, files = derive(tree, result.inventory, args.backend, glue=glue)
    areas = derive_areas(tree, result.inventory, glue, MAX_DEPTH)
    text = skeleton(tree, result.inventory, args.backend, derived, files, pae, areas, arch)
    talk = Talk.of(args)
    talk.scanned(result)
    talk.read(f"glue of {args.backend} on {arch}: {len(files)} file(s), target {target}")
    talk.warnings(result.warnings)
    write_output(text, args.output)
    return 0
