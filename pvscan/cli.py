"""The command line. Thin on purpose: each command imports its module when it runs.

Exit codes: 0 done (clean), 1 findings at the fail level (check, review),
2 usage or input error, 3 internal error (a bug in pvscan). Every error is
one line on stderr, never a traceback (--debug, or PVSCAN_DEBUG=1, shows
the traceback of an internal error).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, NoReturn

from pvscan import __version__
from pvscan.report import format_names

if TYPE_CHECKING:
    from argparse import Namespace, _SubParsersAction
    from collections.abc import Callable

    from pvscan.run import Run


class _Parser(argparse.ArgumentParser):
    """argparse with pvscan's one-line errors: 'pvscan scan: error: ...', exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


# What a tree argument may be: like git, a directory anywhere inside the checkout.
TREE_HELP = "a Linux kernel tree, or a directory inside one (default: the current directory)"


def _jobs(text: str) -> int:
    """-j N: a whole number of at least 1 (more than the cores or the work is capped where used)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a whole number of worker processes, not {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"wants at least 1 worker process, not {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pvscan",
        description="Static analysis of Linux paravirt_ops: ops tables, call sites, backends.",
    )
    p.add_argument("--version", action="version", version=f"pvscan {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("scan", help="inventory of the paravirt ops of a kernel tree",
                       description="Scan a kernel tree: ops tables, ops, call sites, wrappers, "
                                   "callers and the implementation each backend gives.")
    s.add_argument("tree", metavar="PATH", nargs="?", default=".", help=TREE_HELP)
    s.add_argument("--format", choices=format_names("scan"), default="text")
    s.add_argument("--op", metavar="NAME", help="show one op in full, by its canonical name (mmu.set_pte)")
    s.add_argument("--arch", metavar="ARCH", help="only this architecture (x86, ia64 ...)")
    s.add_argument("--callers", action="store_true", help="list every caller of each wrapper")
    s.add_argument("--no-callers", action="store_true",
                   help="skip the whole-tree search for callers of the wrappers (faster)")
    _common(s)
    s.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="highlight code on a terminal (auto: when standard output is one and NO_COLOR is unset)")
    s.set_defaults(func=_command("pvscan.commands.scan", "main"))

    c = sub.add_parser("check", help="check the ops against declared hypercall ABIs",
                       description="Cross-check the operation inventory against one or more declared "
                                   "hypercall ABIs and report what they leave unmapped or constrain.")
    c.add_argument("tree", metavar="PATH", nargs="?", default=".", help=TREE_HELP)
    c.add_argument("--abi", action="append", default=[], metavar="NAME|FILE",
                   help="a bundled ABI (pvscan abi list) or an ABI file; repeatable")
    c.add_argument("--format", choices=format_names("check"), default="text")
    c.add_argument("--fail-on", choices=("error", "warning", "never"), default="error",
                   help="exit 1 when a finding reaches this severity (default: error)")
    c.add_argument("--baseline", metavar="FILE", help="do not report the findings recorded in FILE")
    c.add_argument("--write-baseline", metavar="FILE", help="record every finding of this run in FILE")
    _common(c)
    c.add_argument("--precise", action="store_true",
                   help="size the ops' types with libclang for each ABI's target (docs/precise.md)")
    c.add_argument("--config", metavar="FILE", help="with --precise: a kernel .config (default: a documented set)")
    c.add_argument("--trace-glue", action="store_true",
                   help="follow each backend's glue code down to hypercalls and compare (PV009)")
    c.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="with colour, each finding shows its source line highlighted, as gcc does")
    c.set_defaults(func=_command("pvscan.commands.check", "main"))

    v = sub.add_parser("review", help="annotate a patch: what it does to pv_ops and to each ABI",
                       description="Review a patch (unified diff or git format-patch mbox) against a kernel "
                                   "tree, or a git range, and annotate its lines.")
    v.add_argument("patch", metavar="PATCH|DIR|-|A..B", nargs="+",
                   help="patch files, mboxes or directories of a series (git format-patch's, in name order), "
                        "- for standard input, or with --git a revision range; each applied on what the ones "
                        "before left")
    v.add_argument("--tree", metavar="PATH",
                   help="the kernel tree the patch applies to (or already holds); default: the tree of the "
                        "current directory")
    v.add_argument("--git", metavar="REPO", help="review the range A..B of this git repository, from its objects")
    v.add_argument("--per-commit", action="store_true",
                   help="with --git: review the range's commits one by one, each on what the ones before left, "
                        "and the range as a whole (merges are left out, as git format-patch leaves them)")
    v.add_argument("--abi", action="append", default=[], metavar="NAME|FILE",
                   help="also report the ABI findings the patch introduces; repeatable")
    v.add_argument("--format", choices=format_names("review"), default="text")
    v.add_argument("--fail-on", choices=("error", "warning", "never"), default="error")
    v.add_argument("--no-summary", action="store_true",
                   help="checkpatch format: no 'total:' line per patch (as checkpatch.pl --no-summary; for b4)")
    _color(v, "the severities in colour")
    _common(v)
    v.set_defaults(func=_command("pvscan.commands.review", "main"))

    h = sub.add_parser("report", help="the evidence as one self-contained HTML page",
                       description="Write one static HTML file: ops per group, backends x ops, ABI coverage, "
                                   "and per op its definition, call sites and implementations with code.")
    h.add_argument("tree", metavar="PATH", nargs="?", default=".", help=TREE_HELP)
    h.add_argument("--abi", action="append", default=[], metavar="NAME|FILE")
    h.add_argument("--history", metavar="FILE",
                   help="add a timeline from 'pvscan history --format json' output")
    h.add_argument("--source-url", metavar="TEMPLATE",
                   help="link file:line to a source browser, e.g. "
                        "'https://elixir.bootlin.com/linux/v6.12/source/{path}#L{line}'")
    _common(h)
    h.set_defaults(func=_command("pvscan.commands.report", "main"))

    hi = sub.add_parser("history", help="the ops across revisions, and what each ABI could not express",
                        description="Analyse many revisions (a git repository's, read from its objects, or "
                                    "unpacked trees in order): each op's changes, and per ABI the interface "
                                    "changes it could not have expressed.")
    hi.add_argument("revisions", nargs="*", metavar="REV|A..B|TREE",
                    help="with --git: revisions or a range A..B; without: kernel trees, oldest first")
    hi.add_argument("--git", metavar="REPO", help="read the revisions from this git repository")
    hi.add_argument("--tags", metavar="GLOB", help="with a range: only its tags matching GLOB (e.g. 'v6.*')")
    hi.add_argument("--abi", action="append", default=[], metavar="NAME|FILE")
    hi.add_argument("--format", choices=format_names("history"), default="text")
    hi.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the revisions on this Dask distributed scheduler (or DASK_SCHEDULER_ADDRESS)")
    _color(hi, "the verdicts in colour")
    _common(hi)
    hi.set_defaults(func=_command("pvscan.commands.history", "main"))

    d = sub.add_parser("derive-abi", help="a skeleton ABI file from a backend's glue code",
                       description="Follow each implementation of the backend down to hypercalls and write "
                                   "the result in the ABI format, with numbers from the tree's headers.")
    d.add_argument("derived", metavar="BACKEND", nargs="?",
                   help="the backend whose glue to follow: xen, kvm, vmi, lguest, hyperv ...")
    d.add_argument("tree", metavar="PATH", nargs="?", help=TREE_HELP)
    d.add_argument("--arch", metavar="ARCH",
                   help="the architecture whose glue to read (default: x86 where the backend has glue there)")
    _common(d)
    d.set_defaults(func=_command("pvscan.commands.derive", "main"))

    a = sub.add_parser("abi", help="list or show the declared ABIs")
    asub = a.add_subparsers(dest="abi_command", metavar="list|show", parser_class=_Parser)
    a.set_defaults(func=_usage(a))
    al = asub.add_parser("list", help="the bundled ABIs")
    al.set_defaults(func=_command("pvscan.commands.abi", "main_list"))
    ash = asub.add_parser("show", help="one ABI in full")
    ash.add_argument("abi", metavar="NAME|FILE")
    ash.set_defaults(func=_command("pvscan.commands.abi", "main_show"))

    co = sub.add_parser("completion", help="a shell completion script (bash, zsh, fish)",
                        description="Print a completion script for the shell, generated from this command "
                                    "line's parser: source it, or install it where the shell looks "
                                    "('pvscan completion bash > ~/.local/share/bash-completion/completions/pvscan'). "
                                    "'pvscan completion ops' prints the op names of the tree the current "
                                    "directory is in, which the scripts offer after --op.")
    co.add_argument("shell", choices=("bash", "zsh", "fish", "ops"), metavar="bash|zsh|fish")
    co.add_argument("tree", metavar="PATH", nargs="?", default=".", help=argparse.SUPPRESS)
    co.set_defaults(func=_command("pvscan.commands.completion", "main"))

    r = sub.add_parser("rules", help="the checks and their documentation")
    r.add_argument("code", nargs="?", metavar="CODE", help="one rule in full, e.g. PV002")
    r.add_argument("--markdown", action="store_true", help="all rules as Markdown (docs/rules.md)")
    r.set_defaults(func=_command("pvscan.commands.rules", "main"))
    _talk_options(sub)
    return p


def _talk_options(sub: _SubParsersAction) -> None:
    """-q and -v on every command and subcommand (pvscan.talk), the same way everywhere."""
    for parser in sub.choices.values():
        group = parser.add_mutually_exclusive_group()
        group.add_argument("-q", "--quiet", action="store_true",
                           help="only errors and the verdict: no notes or warnings on stderr")
        group.add_argument("-v", "--verbose", action="store_true",
                           help="also say what was read and decided (tree, version, cache, ABIs)")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _talk_options(action)










def _color(parser: _Parser, what: str) -> None:
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help=f"{what} (default auto: on a terminal, unless NO_COLOR is set)")


def _common(parser: _Parser, jobs: bool = True) -> None:
    """The options every command that scans a tree shares."""
    parser.add_argument("--backend-map", metavar="FILE", help="TOML file of [[backend]] pattern/name rules")
    parser.add_argument("--backend", metavar="PATTERN=NAME", action="append", default=[],
                        help="attribute files matching PATTERN to backend NAME (repeatable)")
    if jobs:
        parser.add_argument("-j", "--jobs", type=_jobs, metavar="N",
                            help="worker processes (default and most: the cores, and no more than the work)")
        parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                            help="a progress line on stderr (default: when stderr is a terminal)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")


def _usage(parser: _Parser) -> Callable:
    """For a command that needs a subcommand: its own usage, exit 2."""
    def call(args: Namespace, run: Run) -> int:
        parser.print_usage(sys.stderr)
        return 2
    return call


def _command(module: str, function: str) -> Callable:
    """The subcommand's function, imported only when it runs (start-up stays quick)."""
    def call(args: Namespace, run: Run) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(args, run)
    return call


def _to_tree_tops(args: Namespace) -> None:
    """Each tree argument as the top of the tree it is inside (a directory inside a checkout, or
    '.', stands for the checkout), before anything asks where the tree is: git status, the
    cache's refusal to write into a tree, the commands."""
    from pvscan.source.top import tree_argument

    if getattr(args, "command", None) == "derive-abi":
        from pvscan.commands.derive import backend_to_derive

        backend_to_derive(args)
    if getattr(args, "command", None) == "review" and not getattr(args, "git", None) and args.tree is None:
        args.tree = "."
    if isinstance(getattr(args, "tree", None), str):
        args.tree = tree_argument(args.tree)
    if getattr(args, "command", None) == "history" and not getattr(args, "git", None):
        args.revisions = [tree_argument(r) for r in args.revisions]


def _refuse_relative_paths_without_a_directory(args: Namespace) -> None:
    """A current directory that was deleted (or cannot be read) leaves '.' and every relative
    path meaning nothing: one line, before anything asks where it is. Absolute paths still work."""
    from pvscan.errors import PvscanError

    try:
        os.getcwd()
        return
    except OSError:
        pass
    from pvscan.abi import bundled_names

    bundled = {n.lower() for n in bundled_names()}
    names = ("tree", "git", "patch", "output", "baseline", "write_baseline", "config", "backend_map",
             "history", "revisions", "abi")
    for name in names:
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or item in ("", "-") or os.path.isabs(item):
                continue
            if name == "abi" and item.lower() in bundled:
                continue
            if name == "revisions" and getattr(args, "git", None):
                continue
            raise PvscanError("the current directory no longer exists (or cannot be read), so a relative "
                              "path means nothing; cd to a directory that exists or give absolute paths", item)


# The arguments that name a file the run reads.
_INPUT_ARGUMENTS = ("patch", "abi", "baseline", "config", "backend_map", "history")


def _refuse_output_over_input(args: Namespace) -> None:
    """An output that is one of the run's own inputs (-o p.diff while reviewing p.diff) would
    be overwritten by what was read from it: refused before anything runs."""
    from pvscan.errors import PvscanError

    read = set()
    for name in _INPUT_ARGUMENTS:
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item not in ("", "-") and "\0" not in item and os.path.isfile(item):
                read.add(os.path.realpath(item))
    for name in ("output", "write_baseline"):
        value = getattr(args, name, None)
        if isinstance(value, str) and value not in ("", "-") and "\0" not in value \
                and os.path.realpath(value) in read:
            raise PvscanError("refusing to write over a file this run reads", value)


def _paths_read(args: Namespace) -> list[str]:
    """The trees and repositories the command reads: a cache inside one is never written."""
    paths = [getattr(args, name, None) for name in ("tree", "git")]
    if getattr(args, "command", None) == "history" and not getattr(args, "git", None):
        paths += list(args.revisions)
    return [p for p in paths if isinstance(p, str) and p != "-"]


def _begin_run(args: Namespace) -> Run:
    """The command's Run: the trees it reads known from the start (a cache inside one is never
    written), and a checkout's 'git status' begun, to run during the imports: a rescan of a git
    checkout asks it first thing."""
    from pvscan.run import Run

    run = Run()         # all this invocation learns; gone when it returns
    for path in _paths_read(args):
        run.reading(path)
    if args.command in ("scan", "check", "report", "review") and isinstance(getattr(args, "tree", None), str):
        from pvscan.source.checkout import start_status

        start_status(run, args.tree, alone=args.command == "review")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from pvscan.errors import PvscanError

    try:
        _refuse_relative_paths_without_a_directory(args)
        _to_tree_tops(args)
        _refuse_output_over_input(args)
    except PvscanError as e:
        print(f"pvscan: error: {e}", file=sys.stderr)
        return 2
    run = _begin_run(args)
    from pvscan.cache import prune_used
    from pvscan.errors import PvscanError

    try:
        code = args.func(args, run)
        prune_used(run)
        return code
    except PvscanError as e:
        print(f"pvscan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pvscan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (pvscan ... | head): not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as e:  # noqa: BLE001 - the one place that turns bugs into one line
        if args.debug or os.environ.get("PVSCAN_DEBUG"):
            raise
        detail = " ".join(f"{type(e).__name__}: {e}".split())
        print(f"pvscan: internal error: {detail}; rerun with --debug for the traceback", file=sys.stderr)
        return 3
    finally:
        run.end()


if __name__ == "__main__":
    raise SystemExit(main())
