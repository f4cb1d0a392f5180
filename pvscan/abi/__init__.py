"""Declared hypercall ABIs: the TOML format (docs/abi-format.md), loaded and validated.

Every error names the file and the line. tomllib gives no positions for
the values it returns, so _Locator reads the text once more for the lines
of tables and keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from pvscan.abi.tomlfile import parse_toml
from pvscan.errors import PvscanError
from pvscan.run import Run
from pvscan.source.files import read_input

# A release range, '2.6.20-2.6.22': its two ends, each a version tuple or None when open.
KernelRange = tuple[tuple[int, ...] | None, tuple[int, ...] | None]
# How the file's checks report a fault: the message and the line of the key at fault. It raises.
Fail = Callable[..., NoReturn]
# The line of a key of the table at hand, when the file has it.
LineOf = Callable[[str], "int | None"]
# The types a key may hold: {key: type, or a tuple of types}.
Keys = dict[str, "type | tuple[type, ...]"]

# shared: the op works through memory it shares with the hypervisor (the [[area]] fields in
# "uses") and needs no hypercall; a hypercall mapping may use areas besides.
KINDS = ("hypercall", "shared", "native", "trap", "unsupported")
TARGETS = ("i386", "i386-pae", "x86_64", "arm64", "riscv64", "loongarch64")


def in_range(kernels: KernelRange | None, version: tuple[int, ...] | None) -> bool | None:
    """Whether version ((major, minor, sub)) is in kernels ((low, high), either end None when
    open); None for no range, or no version to judge. A high end holds its stable releases:
    '-4.14' holds 4.14.219."""
    if kernels is None or version is None:
        return None
    low, high = kernels
    return (low is None or version >= low) and (high is None or version[:len(high)] <= high)


@dataclass(frozen=True)
class Hypercall:
    """One hypercall of an ABI: its number, argument widths and what calling it costs."""

    name: str
    number: int
    args: tuple[int, ...]          # width in bits of each argument
    clobbers: bool                 # clobbers caller-saved registers
    batchable: bool                # can be batched (Xen multicall, VMI lazy mode)
    gates: tuple[str, ...]
    source: str
    line: int
    # The kernels whose hypercall this is, when it changed: lguest's LHCALL_SET_PMD is 15 until
    # 2.6.30 and 13 from 2.6.31. One name may be declared once per era.
    kernels: KernelRange | None = None

    def covers(self, version: tuple[int, ...] | None) -> bool | None:
        return in_range(self.kernels, version)


@dataclass(frozen=True)
class Mapping:
    """How an ABI carries one op: by which hypercalls, or why it does not need to."""

    op: str
    to: str                        # one of KINDS
    hypercalls: tuple[str, ...]
    arg_map: tuple[str, ...] | None    # what goes into each hypercall argument
    split: tuple[str, ...]         # params (or "return") carried in two words
    thunk: bool                    # a register-saving thunk stands between op and hypercall
    signature: str | None          # the op signature the mapping was written against
    reason: str | None
    source: str
    line: int
    # The kernels whose op this is, 'A-B', 'A-' or '-B' (versions like 2.6.22): an ABI
    # that spans an era maps ops that only part of it had.
    kernels: KernelRange | None = None    # (low, high) version tuples, either may be None
    # One arg_map per hypercall, when they take different arguments ('arg_map' as a table):
    # Xen's update_va_mapping(va, pte, flags) and mmu_update(reqs, count, done, domid).
    arg_maps: tuple = ()            # ((hypercall, (entry, ...)), ...)
    # The fields of shared areas the op works through: ('kvm_steal_time.steal', ...).
    uses: tuple[str, ...] = ()

    def args_for(self, hypercall: str) -> tuple[str, ...] | None:
        """What goes into each argument of that hypercall: its own arg_map, the one arg_map of
        every hypercall, or None (the op's parameters one to one)."""
        return dict(self.arg_maps).get(hypercall, self.arg_map)

    def covers(self, version: tuple[int, ...] | None) -> bool | None:
        """Whether a kernel of version (a (major, minor, sub) tuple) is in the mapping's
        range; None when the mapping states no range."""
        return in_range(self.kernels, version)


@dataclass(frozen=True)
class AreaField:
    """One field of a shared area, where the hypervisor's specification puts it (bytes)."""

    name: str
    offset: int
    size: int
    kernels: KernelRange | None = None   # the kernels whose area has it, when not all of the area's do


@dataclass(frozen=True)
class Area:
    """Memory the guest and the hypervisor share, as the hypervisor's specification lays it out:
    KVM's struct kvm_steal_time, registered with MSR_KVM_STEAL_TIME; Xen's struct vcpu_info.
    Its layout in the tree must be this one: a field that moved breaks every running guest."""

    name: str
    struct: str                    # the struct tag the guest declares it with
    headers: tuple[str, ...]       # where the struct (and the types it uses) is declared, first its own
    registered_by: str             # the hypercall or MSR that hands the area to the hypervisor
    fields: tuple[AreaField, ...]
    source: str
    line: int
    kernels: KernelRange | None = None   # (low, high) of the kernels that have the area, as for a mapping

    def covers(self, version: tuple[int, ...] | None) -> bool | None:
        return in_range(self.kernels, version)


@dataclass(frozen=True)
class Abi:
    """A declared hypercall ABI, as its TOML file describes it."""

    name: str
    title: str
    version: str
    arch: str
    target: str
    word_bits: int
    register_args: int
    description: str
    backend: str | None
    sources: tuple[str, ...]
    # symbol -> its value; a set of values where the tree's Kconfig leaves a choice (PGTABLE_LEVELS 4 or 5)
    config: dict[str, bool | int | frozenset[int]] = field(default_factory=dict)
    hypercalls: tuple[Hypercall, ...] = ()
    mappings: tuple[Mapping, ...] = ()
    path: str = ""                 # as shown in findings
    line: int = 1
    # The calling convention beyond the register words: arguments that do not fit
    # go on the stack (VMI: i386 regparm(3)) or nowhere (hypercalls: registers
    # only); a return value may take this many words (edx:eax on i386).
    stack_args: bool = False
    return_words: int = 1
    areas: tuple[Area, ...] = ()

    def hypercall(self, name: str, version: tuple[int, ...] | None = None) -> Hypercall | None:
        """The hypercall of that name for a kernel of version ((major, minor, sub), or None):
        the declaration whose range holds it, else one without a range, else the first."""
        named = [h for h in self.hypercalls if h.name == name]
        return (next((h for h in named if version is not None and h.covers(version)), None)
                or next((h for h in named if h.kernels is None), None)
                or next(iter(named), None))


# -- bundled ABIs --------------------------------------------------------------

# The bundled ABI files sit beside this module, as files (pvscan's cache reads its own sources
# the same way): importlib.resources would make every command import zipfile and more for them.
_BUNDLED = Path(__file__).parent


def bundled_names() -> list[str]:
    return sorted(name[:-5] for name in os.listdir(_BUNDLED) if name.endswith(".toml"))


def load_abi(name_or_path: str, run: Run | None = None) -> Abi:
    """A bundled ABI by name ('xen-pv', in any case: 'XEN-PV'), or an ABI file by path, read
    for run (its cache)."""
    names = bundled_names()
    if name_or_path in names:
        return parse_abi(str(_BUNDLED / f"{name_or_path}.toml"), shown_as=f"<bundled>/{name_or_path}.toml",
                         run=run)
    if not Path(name_or_path).exists():
        folded = {n.lower(): n for n in names}.get(name_or_path.lower())
        if folded is not None:
            return load_abi(folded, run)
        close = abi_suggestions(name_or_path, names)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise PvscanError(f"no such ABI: not a bundled name ({', '.join(names)}) nor a file{hint}", name_or_path)
    return parse_abi(name_or_path, run=run)


def abi_suggestions(name: str, names: list[str]) -> list[str]:
    """The bundled names a mistyped one most likely meant: those it begins ('xen' -> xen-pv),
    then the closest spellings ('kvm64' -> kvm)."""
    import difflib

    wanted = name.lower()
    starts = [n for n in names if n.startswith(wanted) or wanted.startswith(n)] if wanted else []
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)
    return list(dict.fromkeys(starts + close))[:3]


# -- parsing and validation ----------------------------------------------------------

_ABI_KEYS: Keys = {"name": str, "title": str, "version": str, "arch": str, "target": str, "word_bits": int,
             "register_args": int, "stack_args": bool, "return_words": int, "kernels": str,
             "description": str, "backend": str, "sources": list, "config": dict}
_ABI_REQUIRED = ("name", "version", "arch", "target", "word_bits", "register_args", "description", "sources")
_HC_KEYS: Keys = {"name": str, "number": int, "args": list, "clobbers": bool, "batchable": bool, "gates": list,
            "source": str, "kernels": str}
_HC_REQUIRED = ("name", "number", "args", "clobbers", "source")
_MAP_KEYS: Keys = {"op": str, "to": str, "hypercalls": list, "arg_map": (list, dict), "split": list, "thunk": bool,
             "signature": str, "reason": str, "source": str, "kernels": str, "uses": list}
_AREA_KEYS: Keys = {"name": str, "struct": str, "headers": list, "registered_by": str, "fields": list, "source": str,
              "kernels": str}
_AREA_REQUIRED = ("name", "struct", "headers", "registered_by", "fields", "source")
_MAX_AREA_BYTES = 1 << 20
_MAP_REQUIRED = ("op", "to", "source")


_ARRAY_TABLE = re.compile(r"^\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]")
_TABLE = re.compile(r"^\[\s*([A-Za-z0-9_.\-]+)\s*\]")
_KEY = re.compile(r'^("?)([A-Za-z0-9_\-]+)\1\s*=')


class _Locator:
    """Lines of '[abi]', '[[hypercall]]' number i, and of keys inside them."""

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, int], int] = {}
        self.keys: dict[tuple[str, int, str], int] = {}
        counts: dict[str, int] = {}
        current = ("", 0)
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            m = _ARRAY_TABLE.match(line)
            if m:
                name = m.group(1)
                index = counts.get(name, 0)
                counts[name] = index + 1
                current = (name, index)
                self.tables[current] = number
                continue
            m = _TABLE.match(line)
            if m:
                current = (m.group(1), 0)
                self.tables[current] = number
                continue
            m = _KEY.match(line)
            if m:
                self.keys.setdefault((current[0], current[1], m.group(2)), number)

    def table(self, name: str, index: int = 0) -> int | None:
        return self.tables.get((name, index))

    def key(self, table: str, index: int, key: str) -> int | None:
        return self.keys.get((table, index, key)) or self.table(table, index)


def parse_abi(path: str, shown_as: str | None = None, run: Run | None = None) -> Abi:
    """An ABI file, checked table by table: [abi], [[hypercall]], [[area]], [[mapping]]; each
    error names the file and the line of the key at fault."""
    raw = read_input(path, "the ABI file")
    data = parse_toml(raw, path, run)
    shown = shown_as or path
    loc = _Locator(raw.decode("utf-8"))

    def fail(message: str, line: int | None = None) -> NoReturn:
        raise PvscanError(message, shown, line)

    unknown = sorted(set(data) - {"abi", "hypercall", "mapping", "area"})
    if unknown:
        fail(f"unknown table or key {unknown[0]!r} (expected [abi], [[hypercall]], [[area]], [[mapping]])",
             loc.table(unknown[0]) or loc.key("", 0, unknown[0]))
    head, abi_kernels = _head(data, loc, fail)
    hypercalls = _hypercalls(data, loc, fail)
    areas = _areas(data, loc, fail)
    mappings = _mappings(data, loc, fail, {h.name for h in hypercalls},
                         {a.name: {f.name for f in a.fields} for a in areas}, abi_kernels)
    return Abi(
        name=head["name"], title=head.get("title", head["name"]), version=head["version"],
        arch=head["arch"], target=head["target"], word_bits=head["word_bits"],
        register_args=head["register_args"], description=head["description"],
        backend=head.get("backend"), sources=tuple(head["sources"]), config=dict(head.get("config", {})),
        hypercalls=tuple(hypercalls), mappings=tuple(mappings), path=shown,
        line=loc.table("abi") or 1,
        stack_args=head.get("stack_args", False), return_words=head.get("return_words", 1),
        areas=areas,
    )


def _head(data: dict[str, Any], loc: _Locator, fail: Fail) -> tuple[dict, tuple | None]:
    """The [abi] table, checked, and its 'kernels' range (None when it states none)."""
    if "abi" not in data or not isinstance(data["abi"], dict):
        fail("missing [abi] table", 1)
    head = data["abi"]

    def at(key: str):
        return loc.key("abi", 0, key)
    _check_keys(head, _ABI_KEYS, _ABI_REQUIRED, "[abi]", at, fail)
    for key, holds, must in (
            ("target", lambda v: v in TARGETS, f"be one of {', '.join(TARGETS)}"),
            ("word_bits", lambda v: v in (32, 64), "be 32 or 64"),
            ("register_args", lambda v: v >= 0, "not be negative"),
            ("return_words", lambda v: v in (1, 2), "be 1 or 2"),
            ("sources", lambda v: bool(v) and all(isinstance(s, str) for s in v), "be a non-empty list of strings")):
        if not holds(head.get(key, 1)):
            fail(f"[abi] {key} must {must}", at(key))
    wrong = [symbol for symbol, value in head.get("config", {}).items() if not isinstance(value, (bool, int))]
    if wrong:
        fail(f"[abi.config] {wrong[0]} must be true, false or an integer", loc.key("abi.config", 0, wrong[0]))
    if "kernels" not in head:
        return head, None
    kernels = parse_kernel_range(head["kernels"])
    if kernels is None:
        fail("[abi] kernels must be a range of versions like '2.6.21-2.6.36' or '6.1-'", at("kernels"))
    return head, kernels


def _mappings(data: dict[str, Any], loc: _Locator, fail: Fail, hypercall_names: set, fields_of: dict,
              abi_kernels: KernelRange | None) -> list[Mapping]:
    """The [[mapping]] tables. One op may be mapped once per era: the same name can mean another
    thing in another kernel (set_pgd sets the top of four levels in 2.6.32, of five in 6.x)."""
    mappings = []
    seen_ops: dict = {}      # op -> [(line, kernels)] of its mappings so far
    for i, m, where, line in _entries(data, "mapping", "op", _MAP_KEYS, _MAP_REQUIRED, loc, fail):
        def at(key: str, i=i):
            return loc.key("mapping", i, key)
        hcs, arg_map, arg_maps = _mapping_hypercalls(m, where, line, at, fail, hypercall_names)
        if m["to"] == "unsupported" and not m.get("reason"):
            fail(f"{where}: an unsupported op needs a 'reason'", line)
        kernels = _kernels_of(m, "mapping", i, where, loc, fail, abi_kernels)   # its own, else the ABI's
        for first, other in seen_ops.get(m["op"], []):
            if not ranges_apart(kernels, other):
                fail(f"{where}: op {m['op']} mapped twice (first at line {first}); mappings of one op "
                     "need 'kernels' ranges that do not overlap", line)
        seen_ops.setdefault(m["op"], []).append((line, kernels))
        uses = _mapping_uses(m, where, line, at, fail, fields_of)
        mappings.append(Mapping(
            m["op"], m["to"], tuple(hcs), arg_map,
            tuple(m.get("split", [])), m.get("thunk", False), m.get("signature"), m.get("reason"),
            m["source"], line or 0, kernels, arg_maps, tuple(uses)))
    return mappings


def _mapping_hypercalls(m: dict, where: str, line: int | None, at: LineOf, fail: Fail, hypercall_names: set) -> tuple:
    """(hypercalls, arg_map, arg_maps) of a mapping: its 'to' and the hypercalls it names,
    checked against those declared, and how the op's arguments reach them."""
    if m["to"] not in KINDS:
        fail(f"{where}: 'to' must be one of {', '.join(KINDS)}", at("to"))
    for key in ("hypercalls", "split"):
        if not all(isinstance(x, str) for x in m.get(key, [])):
            fail(f"{where}: {key} must be a list of strings", at(key))
    hcs = m.get("hypercalls", [])
    arg_map, arg_maps = _arg_maps(m.get("arg_map"), hcs, where, at("arg_map"), fail)
    if m["to"] == "hypercall" and not hcs:
        fail(f"{where}: a mapping to hypercalls must name them in 'hypercalls'", line)
    if m["to"] != "hypercall" and hcs:
        fail(f"{where}: 'hypercalls' only goes with to = \"hypercall\"", at("hypercalls"))
    for name in hcs:
        if name not in hypercall_names:
            fail(f"{where}: unknown hypercall {name!r}", at("hypercalls"))
    return hcs, arg_map, arg_maps


def _mapping_uses(m: dict, where: str, line: int | None, at: LineOf, fail: Fail, fields_of: dict) -> list[str]:
    """The area fields a mapping relies on ('uses'), each a field of an [[area]] of the ABI."""
    uses = m.get("uses", [])
    for used in uses:
        area, _, name = used.partition(".") if isinstance(used, str) else ("", "", "")
        if name not in fields_of.get(area, ()):
            fail(f"{where}: uses {used!r}, which is no field of an [[area]] of this ABI (area.field)", at("uses"))
    if m["to"] == "shared" and not uses:
        fail(f"{where}: a mapping to shared memory names the area fields it relies on in 'uses'", line)
    if uses and m["to"] not in ("hypercall", "shared"):
        fail(f"{where}: 'uses' goes with to = \"shared\" or \"hypercall\"", at("uses"))
    return uses


def _kernels_of(entry: dict, table: str, index: int, where: str, loc: _Locator, fail: Fail, default=None) -> Any:
    """The entry's 'kernels' range as (low, high), or default when it states none."""
    if "kernels" not in entry:
        return default
    kernels = parse_kernel_range(entry["kernels"])
    if kernels is None:
        fail(f"{where}: kernels must be a range of versions like '2.6.20-2.6.22', '2.6.23-' or '-4.19'",
             loc.key(table, index, "kernels"))
    return kernels


def _hypercalls(data: dict[str, Any], loc: _Locator, fail: Fail) -> list[Hypercall]:
    """The [[hypercall]] tables. A name or a number is declared once, or once per era with
    kernels ranges that do not overlap (a hypercall renumbered between releases)."""
    out: list[Hypercall] = []
    for i, h, where, line in _entries(data, "hypercall", "name", _HC_KEYS, _HC_REQUIRED, loc, fail):
        if not all(isinstance(a, int) and not isinstance(a, bool) and a in (8, 16, 32, 64, 128)
                   for a in h["args"]):
            fail(f"{where}: args must list argument widths in bits (8, 16, 32, 64, 128)",
                 loc.key("hypercall", i, "args"))
        if not all(isinstance(g, str) for g in h.get("gates", [])):
            fail(f"{where}: gates must be a list of strings", loc.key("hypercall", i, "gates"))
        kernels = _kernels_of(h, "hypercall", i, where, loc, fail)
        for other in out:
            if not ranges_apart(kernels, other.kernels) and other.name == h["name"]:
                fail(f"{where}: hypercall {h['name']} declared twice (first at line {other.line}); a hypercall "
                     "declared once per era needs 'kernels' ranges that do not overlap", line)
            if not ranges_apart(kernels, other.kernels) and other.number == h["number"]:
                fail(f"{where}: number {h['number']} already used by {other.name}", loc.key("hypercall", i, "number"))
        out.append(Hypercall(h["name"], h["number"], tuple(h["args"]), h["clobbers"], h.get("batchable", False),
                             tuple(h.get("gates", [])), h["source"], line or 0, kernels))
    return out


def _areas(data: dict[str, Any], loc: _Locator, fail: Fail) -> tuple[Area, ...]:
    """The [[area]] tables: each a struct the specification lays out field by field."""
    out = []
    names: dict = {}
    for i, a, where, line in _entries(data, "area", "name", _AREA_KEYS, _AREA_REQUIRED, loc, fail):
        if a["name"] in names:
            fail(f"{where}: area {a['name']} declared twice (first at line {names[a['name']]})", line)
        names[a["name"]] = line
        if not a["headers"] or not all(isinstance(h, str) and h and not h.startswith("/") and ".." not in h.split("/")
                                       for h in a["headers"]):
            fail(f"{where}: headers must list the tree's header files, relative to its top",
                 loc.key("area", i, "headers"))
        fields: list[AreaField] = []
        seen: list[tuple[str, KernelRange | None]] = []
        for f in a["fields"]:
            ok = (isinstance(f, dict) and {"name", "offset", "size"} <= set(f) <= {"name", "offset", "size", "kernels"}
                  and isinstance(f["name"], str)
                  and all(type(f[k]) is int and 0 <= f[k] < _MAX_AREA_BYTES for k in ("offset", "size"))
                  and f["size"] > 0)
            field_kernels = parse_kernel_range(f["kernels"]) if ok and isinstance(f.get("kernels", ""), str) \
                and "kernels" in f else None
            # A field that moved between releases is declared once per era (lguest_data's tsc_khz).
            again = ok and any(name == f["name"] and not ranges_apart(field_kernels, other)
                               for name, other in seen)
            if not ok or ("kernels" in f and field_kernels is None) or again:
                fail(f"{where}: each field is {{ name = \"...\", offset = N, size = N }} (bytes), once each "
                     "or once per kernels range", loc.key("area", i, "fields"))
            seen.append((f["name"], field_kernels))
            fields.append(AreaField(f["name"], f["offset"], f["size"], field_kernels))
        kernels = _kernels_of(a, "area", i, where, loc, fail)
        out.append(Area(a["name"], a["struct"], tuple(a["headers"]), a["registered_by"], tuple(fields),
                        a["source"], line or 0, kernels))
    return tuple(out)


_VERSION_RE = re.compile(r"^[0-9]+(?:\.[0-9]+){1,2}$")


def ranges_apart(a: KernelRange | None, b: KernelRange | None) -> bool:
    """Whether two kernels ranges ((low, high), an end None when open; None: every kernel)
    share no version. A high end covers its releases: '-4.14' holds 4.14.219."""
    if a is None or b is None:
        return False

    def before(high: tuple[int, ...] | None, low: tuple[int, ...] | None) -> bool:
        return high is not None and low is not None and high < low[:len(high)]
    return before(a[1], b[0]) or before(b[1], a[0])


def kernel_span(kernels: KernelRange | None) -> str:
    """A kernels range as written, parse_kernel_range's inverse: '2.6.21-2.6.22', '6.12-'."""
    low, high = kernels or (None, None)
    return "-".join(".".join(map(str, end)) if end else "" for end in (low, high))


def parse_kernel_range(text: str) -> KernelRange | None:
    """'2.6.20-2.6.22' -> ((2, 6, 20), (2, 6, 22)); an open end is None; None if malformed."""
    low, sep, high = text.strip().partition("-")
    if not sep or not (low or high):
        return None
    ends: list[tuple[int, ...] | None] = []
    for end in (low.strip(), high.strip()):
        if not end:
            ends.append(None)
        elif _VERSION_RE.match(end):
            ends.append(tuple(int(x) for x in end.split(".")))
        else:
            return None
    if ends[0] is not None and ends[1] is not None and ends[0] > ends[1]:
        return None
    return ends[0], ends[1]


def _arg_maps(given: Any, hypercalls: tuple[str, ...], where: str, line: int | None, fail: Fail) -> Any:
    """(one arg_map for every hypercall, or None; ((hypercall, arg_map), ...) one each) from a
    mapping's 'arg_map': a list of strings, or a table of them by hypercall, which names each
    of the mapping's hypercalls and no other."""
    if given is None:
        return None, ()
    if isinstance(given, list):
        if not all(isinstance(x, str) for x in given):
            fail(f"{where}: arg_map must be a list of strings, or a table of them by hypercall", line)
        return tuple(given), ()
    if sorted(given) != sorted(hypercalls):
        fail(f"{where}: an arg_map table needs one list for each of the mapping's hypercalls "
             f"({', '.join(hypercalls) or 'none'}), and no other", line)
    for name, entries in given.items():
        if not isinstance(entries, list) or not all(isinstance(x, str) for x in entries):
            fail(f"{where}: arg_map.{name} must be a list of strings", line)
    return None, tuple((name, tuple(given[name])) for name in hypercalls)


def _entries(data: dict[str, Any], table: str, label_key: str, allowed: Keys, required: Iterable[str],
             loc: _Locator, fail: Fail) -> Iterator[tuple[int, dict[str, Any], str, int | None]]:
    """(index, entry, 'where' label, line) of each [[table]], its keys checked."""
    raw = data.get(table, [])
    if not isinstance(raw, list):
        fail(f"'{table}' must be an array of tables ([[{table}]])", loc.table(table))
    for i, entry in enumerate(raw):
        where = f"[[{table}]] {entry.get(label_key, i + 1)!s}" if isinstance(entry, dict) else f"[[{table}]]"
        _check_keys(entry, allowed, required, where, partial(loc.key, table, i), fail)
        yield i, entry, where, loc.table(table, i)


def _check_keys(table: object, allowed: Keys, required: Iterable[str], where: str, line_of: LineOf,
                fail: Fail) -> None:
    if not isinstance(table, dict):
        fail(f"{where} must be a table")
    for key in table:
        if key not in allowed:
            fail(f"{where}: unknown key {key!r}", line_of(key))
    for key in required:
        if key not in table:
            fail(f"{where}: missing key {key!r}", line_of(next(iter(table), key)) if table else None)
    for key, value in table.items():
        want = allowed[key]
        if want is int and isinstance(value, bool) or not isinstance(value, want):
            fail(f"{where}: {key} must be {_type_name(want)}", line_of(key))


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(map(_type_name, t))
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table"}[t]
