"""The ABIs' shared areas against the tree's headers: PV011 findings.

Each [[area]] of an ABI whose kernels range holds the tree's version is laid
out from the headers the ABI names (checks.layout), for the ABI's target and
configuration, and compared field by field with the ABI, which takes them from
the hypervisor's specification. The source may be a patched one: review reads
the headers as the patch leaves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.abi import in_range
from pvscan.checks.layout import FieldAt, Layout, struct_layout
from pvscan.checks.rules.pv011_area_layout import AreaLayout
from pvscan.findings import Finding

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

    from pvscan.abi import Abi, Area, AreaField
    from pvscan.source import Source
    from pvscan.source.files import KernelVersion


def laid_out(source: Source, abis: Sequence[Abi], version: tuple[int, ...] | None = None,
             headers: set[str] | None = None, precise=None) -> Iterator[Any]:
    """(abi, area, layout or None, problems, the fields of area this kernel has) of every area of
    every ABI that the kernel (version: (major, minor, sub), or None) has; headers: only the
    areas declared in one of these files. precise: {target: precise.PreciseSizes}, whose
    libclang layouts stand for the headers' where libclang laid the struct out."""
    for abi in abis:
        for area in abi.areas:
            if version is not None and area.covers(version) is False:
                continue
            if headers is not None and not headers.intersection(area.headers):
                continue
            clang = (precise or {}).get(abi.target)
            layout: Layout | None
            problems: list[str]
            if clang is not None and area.struct in clang.layouts:
                layout, problems = precise_layout(area.struct, clang.layouts[area.struct]), []
            else:
                layout, problems = struct_layout(source, area.headers, area.struct, abi.target, abi.config)
            yield abi, area, layout, problems, _fields_of(area, version)


def precise_layout(tag: str, laid) -> Layout:
    """A Layout of libclang's (file, line, ((member, offset, size), ...))."""
    file, line, fields = laid
    return Layout(tag, file, line, tuple(FieldAt(name, offset, size, file, line) for name, offset, size in fields))


def _fields_of(area: Area, version: tuple[int, ...] | None) -> tuple[AreaField, ...]:
    """The area's fields a kernel of version has: a field of other kernels' area (loongarch's
    preempted, 7.x on) is not there to compare. Without a version, a field only some kernels
    have (async_pf's reason until 4.19, lguest_data's tsc_khz per era) is left out: which
    kernel's it would be is unknown."""
    return tuple(f for f in area.fields
                 if (f.kernels is None if version is None else in_range(f.kernels, version) is not False))


def version_number(version: KernelVersion | None) -> tuple[int, ...] | None:
    """(major, minor, sub) of a KernelVersion, or None."""
    return (version.version, version.patchlevel, version.sublevel) if version is not None else None


def area_findings(source: Source, abis: Sequence[Abi], version: KernelVersion | None = None,
                  headers: set[str] | None = None, precise=None) -> list[Finding]:
    """PV011 findings of every area of every ABI, in the tree source holds (headers: only the
    areas declared in these files; precise: libclang's layouts, in precise mode)."""
    out = []
    for abi, area, layout, problems, fields in laid_out(source, abis, version_number(version), headers, precise):
        out.extend(_compare(abi, area, layout, problems, fields))
    return out


def _finding(abi: Abi, area: Area, field, file: str, line: int, in_tree: bool, severity: str, what: str,
             evidence: tuple[str, ...] = ()) -> Finding:
    """One PV011 finding; its subject is the area's field, so that each has a fingerprint of its own."""
    rule = AreaLayout
    subject = f"area {area.name}" + (f".{field}" if field else "")
    return Finding(rule.code, severity, abi.name, subject, file, line, rule.message,
                   (("abi", abi.name), ("what", what)), tuple(evidence), in_tree)


def _compare(abi: Abi, area: Area, layout: Layout | None, problems: list[str | Any],
             fields: tuple[AreaField, ...]) -> list[Finding]:
    registered = f"registered by {area.registered_by}"
    if layout is None:
        unread = f"; {'; '.join(problems)}" if problems else ""
        return [_finding(abi, area, None, abi.path, area.line, False, "warning",
                         f"area {area.name}: struct {area.struct} is in none of its headers "
                         f"({', '.join(area.headers)}){unread}", (area.source,))]
    out = []
    for want in fields:
        got = layout.field(want.name)
        where = f"area {area.name} ({registered})"
        if got is None:
            out.append(_finding(abi, area, want.name, layout.file, layout.line, True, "error",
                                f"{where}: field {want.name} is not in struct {area.struct}; the hypervisor "
                                f"keeps it at offset {want.offset}, {want.size} byte(s)", (area.source,)))
        elif got.offset is None:
            out.append(_finding(abi, area, want.name, got.file, got.line, True, "note",
                                f"{where}: the offset of field {want.name} cannot be computed ({layout.unknown})",
                                (area.source,)))
        elif (got.offset, got.size) != (want.offset, want.size):
            out.append(_finding(abi, area, want.name, got.file, got.line, True, "error",
                                f"{where}: field {want.name} is at offset {got.offset}, {got.size} byte(s), in "
                                f"struct {area.struct}; the hypervisor has it at offset {want.offset}, "
                                f"{want.size} byte(s)", (area.source,)))
    return out


def precise_disagreements(source, abis: Sequence[Abi], version=None, precise=None) -> list[str]:
    """Lines for the user wherever libclang and pvscan's own reading of the headers place a field
    of an area differently (both placed it): a configuration the headers' #ifs depend on, or a
    struct pvscan's layout reads wrong. libclang's placement is the one checked."""
    out = []
    for abi, area, layout, _problems, fields in laid_out(source, abis, version, None, precise):
        clang = (precise or {}).get(abi.target)
        if clang is None or area.struct not in clang.layouts:
            continue
        own, _ = struct_layout(source, area.headers, area.struct, abi.target, abi.config)
        if own is None:
            continue
        for want in fields:
            theirs, ours = layout.field(want.name), own.field(want.name)
            if theirs is not None and ours is not None and ours.offset is not None and ours.offset != theirs.offset:
                out.append(f"precise ({abi.target}): area {area.name}: {want.name} is at {theirs.offset} for "
                           f"libclang, at {ours.offset} in pvscan's reading of {own.file}; libclang's is checked")
    return out