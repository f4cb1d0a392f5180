"""Precise mode: the real sizes of the ops' types under a target configuration, from libclang.

The ops header is compiled with libclang as the kernel would: kernel
include paths, -D__KERNEL__, include/linux/kconfig.h, and CONFIG_ symbols
from the user's .config or the documented default set for the target
(DEFAULT_CONFIG). A source tree lacks Kbuild's generated headers; each
one libclang misses gets a stub in a temporary directory (outside the
tree): the asm-generic wrapper Kbuild would generate when there is one,
empty otherwise. A size is used only when libclang resolved the type (its probe line has
no error: clang would otherwise recover an unknown name as int);
when it cannot parse at all, one line says why and the type table stays.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from pvscan.abi import Abi
    from pvscan.inventory.model import Inventory
    from pvscan.source.directory import KernelTree


DEFAULT_CONFIG = {
    "x86_64": {"CONFIG_X86_64": 1, "CONFIG_64BIT": 1, "CONFIG_PHYS_ADDR_T_64BIT": 1, "CONFIG_PGTABLE_LEVELS": 5,
               "CONFIG_X86_5LEVEL": 1, "CONFIG_PAGE_SHIFT": 12, "CONFIG_PARAVIRT": 1, "CONFIG_PARAVIRT_XXL": 1,
               "CONFIG_PARAVIRT_SPINLOCKS": 1, "CONFIG_SMP": 1, "CONFIG_NR_CPUS": 64,
               "CONFIG_X86_L1_CACHE_SHIFT": 6},
    "i386": {"CONFIG_X86_32": 1, "CONFIG_PGTABLE_LEVELS": 2, "CONFIG_PAGE_SHIFT": 12, "CONFIG_PARAVIRT": 1,
             "CONFIG_PARAVIRT_XXL": 1, "CONFIG_SMP": 1, "CONFIG_NR_CPUS": 8, "CONFIG_X86_L1_CACHE_SHIFT": 6},
    "i386-pae": {"CONFIG_X86_32": 1, "CONFIG_X86_PAE": 1, "CONFIG_PHYS_ADDR_T_64BIT": 1,
                 "CONFIG_PGTABLE_LEVELS": 3, "CONFIG_PAGE_SHIFT": 12, "CONFIG_PARAVIRT": 1,
                 "CONFIG_PARAVIRT_XXL": 1, "CONFIG_SMP": 1, "CONFIG_NR_CPUS": 8, "CONFIG_X86_L1_CACHE_SHIFT": 6},
}
CLANG_TARGET = {"x86_64": "x86_64-linux-gnu", "i386": "i386-linux-gnu", "i386-pae": "i386-linux-gnu"}
_MISSING = re.compile(r"'([^']+)' file not found")


@dataclass
class PreciseSizes:
    """Type sizes libclang gave under one target configuration."""

    target: str
    sizes: dict = field(default_factory=dict)        # C type as written -> bits
    config: str = "default"                         # "default", the .config path, or compile_commands.json
    problem: str | None = None                      # why libclang gave nothing
    arities: dict = field(default_factory=dict)     # (file, line) of a function-pointer member -> its arity
    # Shared areas as libclang lays them out: struct tag -> (file, line, ((member, offset, size), ...))
    # in bytes, anonymous members' fields flattened into their struct's (checks.layout does the same).
    layouts: dict = field(default_factory=dict)

    def get(self, ctype: str | None) -> int | None:
        return self.sizes.get(" ".join((ctype or "").split()))


def read_config(path: str) -> dict[str, int | str]:

    from pvscan.source.files import read_input

    out: dict[str, int | str] = {}
    lines = read_input(path, ".config").decode("utf-8", "replace").splitlines()
    for number, line in enumerate(lines, 1):
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line.strip())
        if not m:
            continue
        value = m.group(2)
        if value in ("y", "m"):
            out[m.group(1)] = 1
        elif re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)", value):
            out[m.group(1)] = int(value, 0)
        elif value.startswith('"'):
            out[m.group(1)] = value
    return out


def _compile_commands(tree: KernelTree, arch: str) -> list[str] | None:
    """Flags of a file that includes the ops header, from the tree's compile_commands.json, or None."""
    import json
    import shlex

    path = tree.root / "compile_commands.json"
    if not path.is_file():
        return None
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    wanted = [f"arch/{arch}/kernel/paravirt.c", f"arch/{arch}/kernel/"]
    for prefix in wanted:
        for e in entries:
            if not isinstance(e, dict) or not str(e.get("file", "")).replace(str(tree.root) + "/", "").startswith(prefix):
                continue
            argv = e.get("arguments") or shlex.split(e.get("command", ""))
            directory = e.get("directory", str(tree.root))
            out, skip = [], False
            for a in argv[1:]:
                if skip:
                    skip = False
                    continue
                if a in ("-c", "-MD", "-MMD") or a.endswith(".c"):
                    continue
                if a in ("-o", "-MF", "-MT", "-MQ"):
                    skip = True
                    continue
                if a.startswith("-I") and len(a) > 2 and not os.path.isabs(a[2:]):
                    a = "-I" + os.path.join(directory, a[2:])
                out.append(a)
            return out
    return None


def sizes_for(tree: KernelTree, header: str, arch: str, types: Iterable[str | None], target: str,
              config_path: str | None = None, areas: Sequence[tuple[str, tuple[str, ...]]] = ()) -> PreciseSizes:
    """Bits of each type in types, as libclang computes them for target; and the layout of each
    area's struct (areas: (struct tag, its headers)), compiled in the same translation unit."""
    result = PreciseSizes(target, config=config_path or "default")
    try:
        import clang.cindex as ci
    except ImportError as e:
        result.problem = f"libclang is not installed ({e})"
        return result
    config = read_config(config_path) if config_path else DEFAULT_CONFIG[target]
    types = sorted({" ".join(t.split()) for t in types if t})
    tags = sorted({tag for tag, _ in areas})
    tmp = tempfile.mkdtemp(prefix="pvscan-clang-")
    try:
        stub = os.path.join(tmp, "stub")
        src = _write_probe(tree, tmp, stub, config, header, types, tags, areas)
        root = str(tree.root)
        from_build = None if config_path else _compile_commands(tree, arch)
        if from_build is not None:
            # The kernel build's own flags (read, never run); stubs only fill what is still missing.
            args = ["-x", "c", f"-I{stub}", *from_build, "-ferror-limit=0", "-Wno-everything"]
            result.config = "compile_commands.json"
        else:
            args = _default_args(root, arch, target, stub)
        tu = _parse_stubbing(ci, src, args, stub, root)
        if tu is None:
            result.problem = "libclang returned no translation unit"
            return result
        _read_probe(ci, tu, src, root, types, tags, result)
    except Exception as e:  # noqa: BLE001 - libclang's failures are many and all mean 'fall back'
        result.problem = f"libclang failed: {type(e).__name__}: {e}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _write_probe(tree: KernelTree, tmp: str, stub: str, config: dict, header: str, types: list, tags: list,
                 areas: Sequence[tuple[str, tuple[str, ...]]]) -> str:
    """The probe file (a typedef of each type and area struct, after the headers that declare
    them) and the stub autoconf.h of the configuration; the probe's path."""
    os.makedirs(os.path.join(stub, "generated"))
    with open(os.path.join(stub, "generated", "autoconf.h"), "w") as f:
        for name, value in sorted(config.items()):
            f.write(f"#define {name} {value}\n")
    src = os.path.join(tmp, "pvscan_probe.c")
    with open(src, "w") as f:
        f.write("#include <linux/types.h>\n")
        f.write(f'#include "{tree.root / header}"\n')
        for h in sorted({h for _, headers in areas for h in headers}):
            if (tree.root / h).is_file():
                f.write(f'#include "{tree.root / h}"\n')
        for i, t in enumerate(types):
            f.write(f"typedef {t} __pvscan_t{i};\n")
        for i, tag in enumerate(tags):
            f.write(f"typedef struct {tag} __pvscan_area{i};\n")
    return src


def _default_args(root: str, arch: str, target: str, stub: str) -> list[str]:
    """clang's arguments for a tree with no compile_commands.json: the kernel's include paths."""
    args = ["-x", "c", f"--target={CLANG_TARGET[target]}", "-std=gnu11", "-nostdinc", "-D__KERNEL__",
            f"-I{stub}", f"-I{root}/arch/{arch}/include", f"-I{root}/arch/{arch}/include/generated",
            f"-I{root}/include", f"-I{root}/arch/{arch}/include/uapi", f"-I{root}/include/uapi",
            "-include", f"{root}/include/linux/kconfig.h", "-ferror-limit=0", "-Wno-everything"]
    if target != "x86_64":
        args.append("-m32")
    return args


def _parse_stubbing(ci: Any, src: str, args: list, stub: str, root: str) -> Any:
    """The translation unit of the probe, parsed again with a stub for each header it misses
    (generated headers an unbuilt tree lacks), at most 40 times."""
    index = ci.Index.create()
    tu = None
    for _ in range(40):
        tu = index.parse(src, args=args)
        missing = {m.group(1) for d in tu.diagnostics if d.severity >= 3
                   for m in [_MISSING.search(d.spelling)] if m}
        if not missing:
            break
        for name in missing:
            if os.path.isabs(name) or ".." in name.split("/"):
                # A forced -include the tree lacks: drop it. Never a stub at a
                # path of its own: that could be inside the tree.
                args = _without_include(args, name)
            else:
                _stub(stub, name, root)
    return tu


def _read_probe(ci: Any, tu: Any, src: str, root: str, types: list, tags: list, result: PreciseSizes) -> None:
    """The sizes, area layouts and member arities the probe's translation unit gives, into result."""
    # clang recovers an unknown type name as int: a probe line with an
    # error of its own gives no size at all.
    bad_lines = {d.location.line for d in tu.diagnostics
                 if d.severity >= 3 and d.location.file is not None and d.location.file.name == src}
    for cursor in tu.cursor.get_children():
        if cursor.kind != ci.CursorKind.TYPEDEF_DECL or cursor.location.line in bad_lines:
            continue
        if cursor.spelling.startswith("__pvscan_t"):
            canonical = cursor.underlying_typedef_type.get_canonical()
            size = canonical.get_size()
            if canonical.kind != ci.TypeKind.INVALID and size > 0:
                result.sizes[types[int(cursor.spelling[10:])]] = size * 8
        elif cursor.spelling.startswith("__pvscan_area"):
            struct = cursor.underlying_typedef_type.get_canonical()
            laid = None if _has_errors(tu, struct.get_declaration()) else _struct_fields(ci, struct, root)
            if laid is not None:
                result.layouts[tags[int(cursor.spelling[13:])]] = laid
    result.arities = _member_arities(ci, tu, root)
    if not result.sizes:
        errors = [d.spelling for d in tu.diagnostics if d.severity >= 3]
        result.problem = f"libclang resolved none of the types ({len(errors)} errors, first: " \
                         f"{errors[0] if errors else 'none'})"


def _has_errors(tu: Any, decl: Any) -> bool:
    """Whether libclang reported an error inside the declaration: a member of an unknown type
    ('__u64' without linux/types.h) is dropped or recovered as int, and the layout would lie."""
    extent = decl.extent
    if extent.start.file is None:
        return True
    name, first, last = extent.start.file.name, extent.start.line, extent.end.line
    return any(d.severity >= 3 and d.location.file is not None and d.location.file.name == name
               and first <= d.location.line <= last for d in tu.diagnostics)


def _struct_fields(ci: Any, struct_type: Any, root: str) -> tuple[str, int, tuple[tuple[str, int, int], ...]] | None:
    """(file, line, ((member, offset, size), ...)) in bytes of a complete struct type, or None."""
    decl = struct_type.get_declaration()
    if struct_type.kind != ci.TypeKind.RECORD or struct_type.get_size() <= 0 or decl.location.file is None:
        return None
    fields = []

    def walk(record: Any, base: int) -> None:
        for member in record.get_fields():
            offset = record.get_offset(member.spelling) if member.spelling else -1
            if member.is_anonymous():
                # Its members are the outer struct's (vmware_steal_time's clock union).
                inner = member.type.get_canonical()
                first = next(iter(inner.get_fields()), None)
                at = record.get_offset(first.spelling) - inner.get_offset(first.spelling) if first is not None else -1
                if at >= 0:
                    walk(inner, base + at)
                continue
            size = member.type.get_canonical().get_size()
            if offset < 0 or offset % 8 or member.is_bitfield() or size < 0:
                continue       # a bit-field, or a member libclang cannot place: left out, never guessed
            fields.append((member.spelling, base + offset // 8, size))

    walk(struct_type, 0)
    name = decl.location.file.name
    prefix = root.rstrip("/") + "/"
    return (name[len(prefix):] if name.startswith(prefix) else name, decl.location.line, tuple(fields))


def _member_arities(ci: Any, tu: Any, root: str) -> dict:
    """{(file relative to the tree, line): parameter count} of every function-pointer struct member."""
    out = {}
    stack = [tu.cursor]
    prefix = root.rstrip("/") + "/"
    while stack:
        cursor = stack.pop()
        if cursor.kind == ci.CursorKind.FIELD_DECL:
            t = cursor.type.get_canonical()
            if t.kind == ci.TypeKind.POINTER:
                pointee = t.get_pointee()
                if pointee.kind == ci.TypeKind.FUNCTIONPROTO and cursor.location.file is not None:
                    name = cursor.location.file.name
                    if name.startswith(prefix):
                        out[(name[len(prefix):], cursor.location.line)] = len(list(pointee.argument_types()))
            continue
        if cursor.kind in (ci.CursorKind.TRANSLATION_UNIT, ci.CursorKind.STRUCT_DECL):
            stack.extend(cursor.get_children())
    return out


def signature_mismatches(inventory: Inventory, precise: PreciseSizes) -> list[tuple]:
    """(op, arity tree-sitter read, arity libclang computed) wherever the two disagree."""
    out = []
    for op in inventory.ops:
        if op.convention != "plain" or op.params is None:
            continue
        got = precise.arities.get((op.file, op.line))
        if got is not None and got != len(op.params):
            out.append((op.name, len(op.params), got))
    return out


def _without_include(args: list[str], path: str) -> list[str]:
    out, i = [], 0
    while i < len(args):
        if args[i] == "-include" and i + 1 < len(args) and args[i + 1] == path:
            i += 2
            continue
        out.append(args[i])
        i += 1
    if out == args:
        raise RuntimeError(f"{path} not found")
    return out


def _stub(stub: str, name: str, root: str) -> None:
    """An empty (or asm-generic wrapper) header for a relative include name, inside stub only."""
    path = os.path.realpath(os.path.join(stub, name))
    if not path.startswith(os.path.realpath(stub) + os.sep):
        raise RuntimeError(f"refusing to stub {name!r} outside the temporary directory")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    body = ""
    if name.startswith("asm/"):
        base = name[4:]
        for generic in ("include/asm-generic/", "include/uapi/asm-generic/"):
            if os.path.exists(os.path.join(root, generic, base)):
                body = f"#include <asm-generic/{base}>\n"
                break
    with open(path, "w") as f:
        f.write(body)


def sizes_for_abis(tree: KernelTree, inventory: Inventory, abis: Sequence[Abi],
                   config: str | None) -> tuple[dict, list[str]]:
    """({target: PreciseSizes}, lines to tell the user): libclang's sizes for each ABI's target."""
    out, notes = {}, []
    for target in sorted({a.target for a in abis}):
        arch = next(a.arch for a in abis if a.target == target)
        if target not in CLANG_TARGET:
            notes.append(f"precise ({target}): not a target precise mode builds for; sizes come from the type table")
            continue
        tables = [t for t in inventory.tables if t.arch == arch and t.ops]
        if not tables:
            continue
        types = {o.return_type for o in inventory.ops if o.arch == arch}
        types |= {p.type for o in inventory.ops if o.arch == arch for p in (o.params or ()) if p.type}
        areas = sorted({(area.struct, area.headers) for a in abis if a.target == target for area in a.areas})
        sizes = sizes_for(tree, tables[0].file, arch, types, target, config, areas)
        if sizes.problem:
            notes.append(f"precise ({target}): {sizes.problem}; sizes come from the type table")
        else:
            wrong = signature_mismatches(inventory, sizes)
            checked = sum(1 for o in inventory.ops if (o.file, o.line) in sizes.arities)
            laid = f"; {len(sizes.layouts)} of {len(areas)} shared areas laid out by libclang" if areas else ""
            notes.append(f"precise ({target}): {len(sizes.sizes)} of {len(types)} type sizes from libclang "
                         f"({sizes.config} configuration); {checked - len(wrong)} of {checked} signatures "
                         f"confirmed{laid}")
            for name, ours, theirs in wrong:
                notes.append(f"warning: precise ({target}): {name}: tree-sitter read {ours} parameters, "
                             f"libclang {theirs}")
        out[target] = sizes
    return out, notes
