from __future__ import annotations

from typing import TYPE_CHECKING

from pvscan.inventory.model import signature_of
from pvscan.review.changes.base import ChangeKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from pvscan.facts.model import Member
    from pvscan.findings import Finding
    from pvscan.inventory.model import Op
    from pvscan.review.changes.base import OpPair
    from pvscan.review.patch import FilePatch, Hunk


class SignatureChanged(ChangeKind):
    """The patch changes an op's return type or parameter types.

    ## What it does
    Compares each op's signature (types only) before and after. A hunk
    that does not apply to the tree is read on its own: a function-pointer
    member whose types differ between its removed and added lines, in the
    file that declares the op of that name, is the same change.

    ## Why it matters
    Every implementation and every hypercall mapping was written against
    the old signature. With an ABI given (`--abi`) that maps the op, the
    finding is an error, its evidence the mapping.

    ## Example
    A third parameter added to `mmu.set_pte`.

    ## How to fix
    Update the implementations and the ABIs' pinned signatures.
    """

    code, name, severity = "PV104", "signature-changed", "warning"
    changes_op = changes_interface = True
    counted_as = "signature change(s)"
    message = "patch changes the signature of {op}: {before} -> {after}"

    def changes(self, pair: OpPair) -> Iterator[Finding]:
        b, a = pair.before, pair.after
        if b is None or a is None:
            return
        before, after = signature_of(b), signature_of(a)
        if before != after and before and after:
            yield self.finding(a, a.file, a.line, before=before, after=after)

    def unapplied(self, fp: FilePatch, hunk: Hunk, ops: Iterable[Op]) -> Iterator[Finding]:
        """The signature changes a hunk that did not apply makes, from its own lines: each side
        (context and removed lines, context and added lines) parsed as the members of a struct."""
        before, after = _members(fp, hunk, " -"), _members(fp, hunk, " +")
        declared = {o.name.rsplit(".", 1)[-1]: o for o in ops if o.file in (fp.old_path, fp.new_path)}
        for name in sorted(set(before) & set(after) & set(declared)):
            old, new = _signature(before[name]), _signature(after[name])
            if old != new:
                # Line 1 of the parsed text is the struct's opening: line 2 is the hunk's first.
                yield self.finding(declared[name], fp.path, hunk.new_start + after[name].line - 2,
                                   before=old, after=new)


def _members(fp: FilePatch, hunk: Hunk, tags: str) -> dict[str, Member]:
    """{name: function-pointer member} of one side of a hunk, parsed as a struct's body."""
    from pvscan.facts.parse import parse_file

    body = "\n".join(text for tag, text in hunk.lines if tag in tags)
    # A hunk may begin inside a comment, or end in one: close what it opens, open what it closes.
    opens, closes = body.find("/*"), body.find("*/")
    if closes >= 0 and (opens < 0 or closes < opens):
        body = "/*" + body
    if body.rfind("/*") > body.rfind("*/"):
        body += "*/"
    facts = parse_file(fp.path, f"struct __pvscan_hunk {{\n{body}\n}};\n".encode("utf-8", "surrogateescape"))
    return {m.name: m for s in facts.structs for m in s.members if m.kind == "fnptr"}


def _signature(m: Member) -> str:
    """A member's signature as signature_of() writes an op's: 'int (u32, u64 *)'."""
    return f"{m.type} ({', '.join(p.type or '?' for p in m.params) or 'void'})"


RULE = SignatureChanged
