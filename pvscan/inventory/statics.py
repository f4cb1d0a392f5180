"""Pass 1b: the paravirt static calls (5.12 on) as ops, with their call sites and implementations.

Since 5.12 the clock hooks are static calls, not table members:
'DEFINE_STATIC_CALL(pv_steal_clock, native_steal_clock)' in arch/*/kernel/paravirt.c
(5.12-6.x) or kernel/sched/cputime.c (7.x), 'DEFINE_STATIC_CALL(pv_sched_clock, ...)' in
arch/x86/kernel/paravirt.c or tsc.c. Each is an op named by the static call:

* its signature is its default function's, as the defining or declaring file declares it;
* 'static_call(pv_x)(...)' is a call site, wrapped by the function around it
  (paravirt_steal_clock), 'static_call_query(pv_x)' a read;
* the default function is the native implementation, as a root's own initializer is;
* 'static_call_update(pv_x, f)' installs f for the backend of its file, unless f is a
  parameter of the function around it: that function is an installer
  ('paravirt_set_sched_clock(func)'), and each call of it installs its argument for the
  backend of the calling file ('paravirt_set_sched_clock(kvm_sched_clock_read)').

Architectures: a static call defined in arch/X is X's; one defined outside arch/ (7.x's
kernel/sched/cputime.c) is 'generic', built for every architecture that enables it. A use
in an architecture's file reaches that architecture's static call (or the generic one); a
use in a generic file reaches the generic one, or else each architecture's of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pvscan.errors import Warning_
from pvscan.facts.preprocess import guard_expression
from pvscan.inventory.backends import NATIVE, BackendHomes, BackendMap
from pvscan.inventory.implementations import unwrap_value as unwrap
from pvscan.inventory.model import CallSite, Implementation, Wrapper
from pvscan.inventory.tables import OpDecl
from pvscan.naming import INSTALLER_CALL_RE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pvscan.facts.model import FileFacts, StaticCallDecl, StaticCallUse

STATIC_CALL = "static_call"      # the table and group every static call is listed under


@dataclass(frozen=True)
class Installer:
    """A function that installs its argument into a static call: 'paravirt_set_sched_clock(func)'."""

    name: str
    arch: str
    static_call: str
    param: int
    file: str
    line: int


@dataclass(frozen=True)
class Statics:
    """The static calls as ops, and what the tree does with them."""

    ops: tuple[OpDecl, ...]
    call_sites: dict             # op key -> tuple[CallSite]
    wrappers: dict               # op key -> tuple[Wrapper]
    implementations: dict        # op key -> tuple[Implementation]
    installers: tuple[Installer, ...]
    blind: tuple[Warning_, ...]      # installers whose calls the search may not reach


def find_static_calls(facts: Sequence[FileFacts], backend_map: BackendMap,
                      homes: BackendHomes = BackendHomes()) -> Statics:
    """The paravirt static calls (pv_steal_clock ...) as ops: their defaults, the backends that
    update them (directly or through an installer function), their call sites and wrappers."""
    decls = _declarations(facts)
    ops = {key: _op(key, found) for key, found in sorted(decls.items())}
    warnings: list[Warning_] = []
    sites: dict = {}
    wrappers: dict = {}
    impls: dict = {}
    installers = _installers(facts, ops, warnings)

    for key, op in ops.items():
        for f, d in decls[key]:
            if d.defined:
                impls.setdefault(key, []).append(Implementation(
                    NATIVE, f.path, d.line, d.function, "static call default", (), guard_expression(d.guard)))
    for f in facts:
        for use in f.static_call_uses:
            if not _resolve(ops, f.arch, use.name):
                # A pv_ static call no scanned file defines or declares: what it reaches is unknown.
                warnings.append(Warning_(f.path, use.line, f"{use.kind} of static call {use.name}, which no "
                                         "scanned file defines or declares: it is in no op"))
            for key in _resolve(ops, f.arch, use.name):
                if use.kind == "update":
                    _update(f, use, key, backend_map, homes, impls)
                else:
                    _use(f, use, key, sites, wrappers)
        _installer_calls(f, installers, ops, backend_map, homes, impls)
    return Statics(
        tuple(ops.values()),
        {k: tuple(v) for k, v in sites.items()},
        {k: tuple(sorted(v, key=lambda w: (w.name, w.file, w.line))) for k, v in wrappers.items()},
        {k: tuple(v) for k, v in impls.items()},
        tuple(sorted((i for found in installers.values() for i in found), key=lambda i: (i.name, i.file))),
        tuple(warnings),
    )


def _update(f: FileFacts, use: StaticCallUse, key: tuple[str, str], backend_map: BackendMap, homes: BackendHomes,
            impls: dict) -> None:
    """A static_call_update() of the op key: the implementation of the file's backend."""
    if use.param_index is not None:
        return                  # an installer's own body: its callers install
    backend = backend_map.backend_of(f.path)
    if f.arch == "generic" and key[0] != "generic" and not homes.builds(backend, key[0]):
        return   # drivers/xen/time.c: Xen's architectures' static call, not riscv's
    function, wrapped = unwrap(use.value or "", {})
    impls.setdefault(key, []).append(Implementation(
        backend, f.path, use.line, function, "static_call_update", wrapped, guard_expression(use.guard)))


def _use(f: FileFacts, use: StaticCallUse, key: tuple[str, str], sites: dict, wrappers: dict) -> None:
    """A call (or read) of the op key: a call site, and its function a wrapper when it calls."""
    sites.setdefault(key, []).append(CallSite(
        f.path, use.line, "static_call" if use.kind == "call" else "read", None, None, None, None,
        use.function, use.function_kind, guard_expression(use.guard)))
    if use.kind == "call" and use.function and use.function_kind != "file":
        line = max((fl for fn, fl in f.functions if fn == use.function and fl <= use.line), default=use.line)
        wrappers.setdefault(key, set()).add(Wrapper(use.function, use.function_kind, f.path, line))


def _installer_calls(f: FileFacts, installers: dict, ops: dict, backend_map: BackendMap, homes: BackendHomes,
                     impls: dict) -> None:
    """The implementations a file installs through an installer function (the function it
    passes to one that calls static_call_update with its parameter)."""
    for call in f.installer_calls:
        for inst in installers.get(call.callee, ()):
            if inst.param >= len(call.args) or (inst.file == f.path and call.function == inst.name):
                continue
            function, wrapped = unwrap(call.args[inst.param], {})
            backend = backend_map.backend_of(f.path)
            for key in _resolve(ops, inst.arch, inst.static_call):
                if f.arch == "generic" and key[0] != "generic" and not homes.builds(backend, key[0]):
                    continue
                impls.setdefault(key, []).append(Implementation(
                    backend, f.path, call.line, function, f"installer {inst.name}", wrapped,
                    guard_expression(call.guard)))


def _declarations(facts: Sequence[FileFacts]) -> dict:
    """{(arch, name): [(FileFacts, StaticCallDecl)]}: each static call where it is defined (its
    storage's file decides the arch) or, with no definition scanned, where it is declared."""
    defined: dict = {}
    declared: dict = {}
    for f in facts:
        for d in f.static_calls:
            (defined if d.defined else declared).setdefault(d.name, []).append((f, d))
    out: dict = {}
    for name in sorted(set(defined) | set(declared)):
        homes = {f.arch for f, _ in defined.get(name, ())} or {f.arch for f, _ in declared.get(name, ())}
        for arch in sorted(homes):
            # The declarations of this arch (or generic headers) give the signature when the
            # definition's file does not declare the default function.
            found = [(f, d) for f, d in defined.get(name, ()) if f.arch == arch]
            found += [(f, d) for f, d in declared.get(name, ()) if f.arch in (arch, "generic")]
            out[(arch, name)] = found
    return out


def _op(key: tuple[str, str], found: list[tuple[FileFacts, StaticCallDecl]]) -> OpDecl:
    arch, name = key
    definition = next((pair for pair in found if pair[1].defined), found[0])
    f, d = definition
    typed = next((d2 for _, d2 in [definition] + found if d2.params is not None), None)
    return OpDecl(name, arch, STATIC_CALL, STATIC_CALL, (name,),
                  typed.return_type if typed else None, typed.params if typed else None,
                  STATIC_CALL, "declaration" if typed else None, d.guard, f.path, d.line, None)


def _resolve(ops: dict, arch: str, name: str) -> list:
    """The static calls a use in a file of arch names: its own arch's, or the generic one; from a
    generic file the generic one, or else every architecture's of that name."""
    if arch != "generic":
        for key in ((arch, name), ("generic", name)):
            if key in ops:
                return [key]
        return []
    if ("generic", name) in ops:
        return [("generic", name)]
    return sorted(key for key in ops if key[1] == name)


def _installers(facts: Sequence[FileFacts], ops: dict, warnings: list) -> dict:
    """{function name: [Installer]}: the functions whose body installs one of their parameters."""
    out: dict = {}
    for f in facts:
        for use in f.static_call_uses:
            if (use.kind != "update" or use.param_index is None or use.function_kind != "function"
                    or use.function is None):
                continue
            if not _resolve(ops, f.arch, use.name):
                continue
            line = max((fl for fn, fl in f.functions if fn == use.function and fl <= use.line), default=use.line)
            out.setdefault(use.function, []).append(Installer(use.function, f.arch, use.name, use.param_index,
                                                              f.path, line))
            if not INSTALLER_CALL_RE.match(use.function):
                # Its calls are found only in files the search reads for other reasons.
                warnings.append(Warning_(f.path, use.line, f"{use.function}() installs its argument into "
                                         f"static call {use.name}, but its name is not paravirt_*: calls of it "
                                         "in files that name no table or static call are not found"))
    return out
