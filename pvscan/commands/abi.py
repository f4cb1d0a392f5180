"""pvscan abi list | show NAME|FILE: the declared ABIs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sys

from pvscan.abi import bundled_names, kernel_span, load_abi

if TYPE_CHECKING:
    from argparse import Namespace
    from pvscan.run import Run


def main_list(args: Namespace, run: Run) -> int:
    abis = [load_abi(name, run) for name in bundled_names()]
    n = max([8] + [len(a.name) for a in abis])
    r = max([5] + [len(a.arch) for a in abis])
    t = max([9] + [len(a.target) for a in abis])
    print(f"{'name':<{n}} {'arch':<{r}} {'target':<{t}} {'word':>4} {'regs':>4} {'calls':>5} {'ops':>4} "
          f"{'areas':>5}  title")
    for a in abis:
        print(f"{a.name:<{n}} {a.arch:<{r}} {a.target:<{t}} {a.word_bits:>4} {a.register_args:>4} "
              f"{len(a.hypercalls):>5} {len(a.mappings):>4} {len(a.areas):>5}  {a.title}")
    return 0


def main_show(args: Namespace, run: Run) -> int:
    a = load_abi(args.abi, run)
    w = sys.stdout.write
    w(f"{a.name}: {a.title}\n  version   {a.version}\n  arch      {a.arch} ({a.target}), "
      f"{a.word_bits}-bit words, {a.register_args} arguments in registers\n")
    if a.backend:
        w(f"  backend   {a.backend}\n")
    w(f"  file      {a.path}\n\n{a.description}\n\nSources:\n")
    for s in a.sources:
        w(f"  - {s}\n")
    if a.config:
        w("\nConfiguration covered:\n")
        for k, v in sorted(a.config.items()):
            w(f"  {k} = {str(v).lower() if isinstance(v, bool) else v}\n")
    w(f"\nHypercalls ({len(a.hypercalls)}):\n")
    for h in a.hypercalls:
        flags = ", ".join(x for x, on in (("clobbers", h.clobbers), ("batchable", h.batchable)) if on)
        widths = ", ".join(map(str, h.args)) or "none"
        w(f"  {h.number:>4}  {h.name:<32} args [{widths}]" + (f"  {flags}" if flags else "") + "\n")
    if a.areas:
        w(f"\nShared areas ({len(a.areas)}):\n")
    for area in a.areas:
        era = f"  [kernels {kernel_span(area.kernels)}]" if area.kernels else ""
        w(f"  {area.name}: struct {area.struct}, registered by {area.registered_by}{era}\n")
        for f in area.fields:
            field_era = f"  [kernels {kernel_span(f.kernels)}]" if f.kernels else ""
            w(f"    {f.offset:>4} {f.size:>4}  {f.name}{field_era}\n")
    w(f"\nMappings ({len(a.mappings)}):\n")
    for m in sorted(a.mappings, key=lambda m: m.op):
        what = ", ".join(m.hypercalls) if m.to == "hypercall" else m.to
        # An op mapped once per era shows each mapping with the kernels it is for.
        era = f"  [kernels {kernel_span(m.kernels)}]" if m.kernels else ""
        uses = f"  uses {', '.join(m.uses)}" if m.uses else ""
        w(f"  {m.op:<40} {what}{era}" + (f"  ({m.reason})" if m.reason else "") + uses + "\n")
    return 0
