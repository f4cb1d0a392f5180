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
    target: str
    sizes: dict = field(default_factory=dict)        # C type as written -> bits
    config: str = "default"                         # "default" or the .config path
    problem: str | None = None                      # why libclang gave nothing

    def get(self, ctype):
        return self.sizes.get(" ".join((ctype or "").split()))


def read_config(path: str) -> dict:
    from pvscan.errors import PvscanError

    out = {}
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        raise PvscanError(f"cannot read .config: {e.strerror}", path) from None
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


def sizes_for(tree, header: str, arch: str, types, target: str, config_path: str | None = None) -> PreciseSizes:
    """Bits of each type in types, as libclang computes them for target."""
    result = PreciseSizes(target, config=config_path or "default")
    try:
        import clang.cindex as ci
    except ImportError as e:
        result.problem = f"libclang is not installed ({e})"
        return result
    config = read_config(config_path) if config_path else DEFAULT_CONFIG[target]
    types = sorted({" ".join(t.split()) for t in types if t})
    tmp = tempfile.mkdtemp(prefix="pvscan-clang-")
    try:
        stub = os.path.join(tmp, "stub")
        os.makedirs(os.path.join(stub, "generated"))
        with open(os.path.join(stub, "generated", "autoconf.h"), "w") as f:
            for name, value in sorted(config.items()):
                f.write(f"#define {name} {value}\n")
        src = os.path.join(tmp, "pvscan_probe.c")
        with open(src, "w") as f:
            f.write("#include <linux/types.h>\n")
            f.write(f'#include "{tree.root / header}"\n')
            for i, t in enumerate(types):
                f.write(f"typedef {t} __pvscan_t{i};\n")
        root = str(tree.root)
        args = ["-x", "c", f"--target={CLANG_TARGET[target]}", "-std=gnu11", "-nostdinc", "-D__KERNEL__",
                f"-I{stub}", f"-I{root}/arch/{arch}/include", f"-I{root}/arch/{arch}/include/generated",
                f"-I{root}/include", f"-I{root}/arch/{arch}/include/uapi", f"-I{root}/include/uapi",
                "-include", f"{root}/include/linux/kconfig.h", "-ferror-limit=0", "-Wno-everything"]
        if target != "x86_64":
            args.append("-m32")
        index = ci.Index.create()
        tu = None
        for _ in range(40):
            tu = index.parse(src, args=args)
            missing = {m.group(1) for d in tu.diagnostics if d.severity >= 3
                       for m in [_MISSING.search(d.spelling)] if m}
            if not missing:
                break
            for name in missing:
                _stub(stub, name, root)
        if tu is None:
            result.problem = "libclang returned no translation unit"
            return result
        # clang recovers an unknown type name as int: a probe line with an
        # error of its own gives no size at all.
        bad_lines = {d.location.line for d in tu.diagnostics
                     if d.severity >= 3 and d.location.file is not None and d.location.file.name == src}
        for cursor in tu.cursor.get_children():
            if cursor.kind == ci.CursorKind.TYPEDEF_DECL and cursor.spelling.startswith("__pvscan_t"):
                if cursor.location.line in bad_lines:
                    continue
                canonical = cursor.underlying_typedef_type.get_canonical()
                size = canonical.get_size()
                if canonical.kind != ci.TypeKind.INVALID and size > 0:
                    result.sizes[types[int(cursor.spelling[10:])]] = size * 8
        if not result.sizes:
            errors = [d.spelling for d in tu.diagnostics if d.severity >= 3]
            result.problem = f"libclang resolved none of the types ({len(errors)} errors, first: " \
                             f"{errors[0] if errors else 'none'})"
    except Exception as e:  # noqa: BLE001 - libclang's failures are many and all mean 'fall back'
        result.problem = f"libclang failed: {type(e).__name__}: {e}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _stub(stub: str, name: str, root: str) -> None:
    path = os.path.join(stub, name)
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
