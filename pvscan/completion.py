"""Shell completion and the manual page, both read off the command line's own parser.

Nothing here lists a command or an option by hand: bash, zsh and fish scripts
and the roff page walk build_parser(), so they follow the parser as it changes
(a test compares the committed man/pvscan.1 with what this writes). ABI names
are the bundled ones; op names come at completion time from
`pvscan completion ops`, which scans the tree the shell is in (quickly once the
cache holds it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")
# Options whose value is a path: the shell completes files for them.
_FILE_METAVARS = {"FILE", "PATH", "REPO", "DIR", "GIT_DIR"}


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]        # ('-o', '--output')
    takes_value: bool
    choices: tuple[str, ...]      # from the parser's choices, or the bundled ABI names for --abi
    files: bool                   # its value is a path
    help: str
    metavar: str                  # what the value is called in the manual


@dataclass(frozen=True)
class Command:
    name: str                     # 'scan', or 'abi show'
    help: str
    description: str
    options: tuple[Option, ...]
    positionals: tuple[tuple[str, str], ...]   # (metavar, help)


def _metavar(action: argparse.Action) -> str:
    """An option's value as the usage names it; argparse allows a tuple (one name a value)."""
    m = action.metavar
    return " ".join(m) if isinstance(m, tuple) else (m or "")


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command and subcommand of the parser, in the order the parser declares them."""
    from pvscan.abi import bundled_names

    abi_names = tuple(bundled_names())
    out = []

    def walk(p: argparse.ArgumentParser, prefix: str, help_text: str) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        options, positionals = [], []
        for a in p._actions:
            if isinstance(a, (argparse._SubParsersAction, argparse._HelpAction)) or a.help == argparse.SUPPRESS:
                continue
            if a.option_strings:
                choices = tuple(a.choices) if a.choices else (abi_names if "--abi" in a.option_strings else ())
                metavar = _metavar(a)
                options.append(Option(tuple(a.option_strings), a.nargs != 0, tuple(str(c) for c in choices),
                                      metavar in _FILE_METAVARS or "FILE" in metavar, a.help or "",
                                      metavar or a.dest.upper()))
            else:
                positionals.append((_metavar(a) or a.dest, a.help or ""))
        if prefix:
            out.append(Command(prefix, help_text, p.description or "", tuple(options), tuple(positionals)))
        for sub in subs:
            helps = {c.dest: c.help or "" for c in sub._choices_actions}
            for name, child in sub.choices.items():
                walk(child, f"{prefix} {name}".strip(), helps.get(name, ""))

    walk(parser, "", "")
    return out


def _top(cmds: list[Command]) -> list[Command]:
    return [c for c in cmds if " " not in c.name]


def bash_script(parser: argparse.ArgumentParser) -> str:
    cmds = commands(parser)
    lines = ["# bash completion for pvscan, written by `pvscan completion bash`",
             "_pvscan() {",
             '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
             '    local cmd="${COMP_WORDS[1]}" opts=""',
             "    if [ \"$COMP_CWORD\" -eq 1 ]; then",
             f'        COMPREPLY=($(compgen -W "{" ".join(c.name for c in _top(cmds))} --version --help" -- "$cur"))',
             "        return",
             "    fi",
             '    case "$cmd:$prev" in']
    for c in cmds:
        head = c.name.split()[0]
        for o in c.options:
            if not o.takes_value:
                continue
            pattern = "|".join(f"{head}:{f}" for f in o.flags)
            if "--op" in o.flags:
                action = 'COMPREPLY=($(compgen -W "$(pvscan completion ops 2>/dev/null)" -- "$cur"))'
            elif o.choices:
                action = f'COMPREPLY=($(compgen -W "{" ".join(o.choices)}" -- "$cur"))'
                if "--abi" in o.flags:
                    action += "; COMPREPLY+=($(compgen -f -- \"$cur\"))"
            elif o.files:
                action = 'COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                action = "COMPREPLY=()"
            lines.append(f"        {pattern}) {action}; return;;")
    lines += ["    esac", '    case "$cmd" in']
    for c in _top(cmds):
        flags = sorted({f for o in c.options for f in o.flags} | {"--help"})
        subs = [s.name.split()[1] for s in cmds if s.name.startswith(c.name + " ")]
        words = " ".join(subs + flags)
        lines.append(f'        {c.name}) opts="{words}";;')
    lines += ["    esac",
              '    if [[ "$cur" == -* ]]; then',
              '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
              "    else",
              '        COMPREPLY=($(compgen -W "$(printf "%s\\n" $opts | grep -v "^-")" -- "$cur") $(compgen -f -- "$cur"))',
              "    fi",
              "}",
              "complete -o filenames -F _pvscan pvscan", ""]
    return "\n".join(lines)


def zsh_script(parser: argparse.ArgumentParser) -> str:
    # zsh runs the bash completion through its own bashcompinit.
    return "\n".join(["#compdef pvscan", "# zsh completion for pvscan, written by `pvscan completion zsh`",
                      "autoload -U +X bashcompinit && bashcompinit", bash_script(parser)])


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(parser: argparse.ArgumentParser) -> str:
    cmds = commands(parser)
    top = _top(cmds)
    names = " ".join(c.name for c in top)
    lines = ["# fish completion for pvscan, written by `pvscan completion fish`",
             "complete -c pvscan -f"]
    for c in top:
        lines.append(f"complete -c pvscan -n 'not __fish_seen_subcommand_from {names}' -a {c.name} "
                     f"-d {_fish_quote(c.help)}")
    for c in cmds:
        words = c.name.split()
        cond = f"__fish_seen_subcommand_from {words[0]}"
        if len(words) > 1:
            lines.append(f"complete -c pvscan -n '{cond}' -a {words[1]} -d {_fish_quote(c.help)}")
        for o in c.options:
            spec = " ".join(f"-l {f[2:]}" if f.startswith("--") else f"-s {f[1:]}" for f in o.flags)
            if "--op" in o.flags:
                value = " -x -a '(pvscan completion ops 2>/dev/null)'"
            elif o.choices:
                value = f" -x -a {_fish_quote(' '.join(o.choices))}" if "--abi" not in o.flags else \
                    f" -r -F -a {_fish_quote(' '.join(o.choices))}"
            elif o.files:
                value = " -r -F"
            elif o.takes_value:
                value = " -x"
            else:
                value = ""
            lines.append(f"complete -c pvscan -n '{cond}' {spec}{value} -d {_fish_quote(o.help[:80])}")
    return "\n".join(lines) + "\n"


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes, and leading dots and quotes, escaped."""
    text = " ".join(text.split()).replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def manpage(parser: argparse.ArgumentParser, version: str) -> str:
    """The manual page, pvscan(1), in roff."""
    cmds = commands(parser)
    out = [f'.TH PVSCAN 1 "" "pvscan {version}" "User Commands"',
           ".SH NAME", "pvscan \\- static analysis of Linux paravirt_ops",
           ".SH SYNOPSIS", ".B pvscan", "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIPATH\\fR]",
           ".SH DESCRIPTION", _roff(parser.description or ""),
           _roff("A PATH may be any directory inside a kernel tree, and may be left out: the tree is the one "
                 "it, or the current directory, is inside (the nearest directory above with arch/ and a "
                 "Makefile that sets VERSION and PATCHLEVEL)."),
           ".SH COMMANDS"]
    for c in cmds:
        out += [".SS " + _roff(f"pvscan {c.name}"), _roff(c.description or c.help)]
        for metavar, text in c.positionals:
            out += [".TP", f"\\fI{_roff(metavar)}\\fR", _roff(text)]
        for o in c.options:
            listed = o.choices and "--abi" not in o.flags      # (the ABI names are the bundled ones)
            value = f" \\fI{_roff(o.metavar)}\\fR" if o.takes_value and not listed else ""
            choices = " " + _roff("{" + ",".join(o.choices) + "}") if listed else ""
            out += [".TP", "\\fB" + ", ".join(_roff(f) for f in o.flags) + "\\fR" + value + choices]
            out += [_roff(o.help)] if o.help else []
    out += [".SH EXIT STATUS",
            ".TP", "0", "Done, and nothing reached the severity that fails the run.",
            ".TP", "1", _roff("Findings reached --fail-on, or the scan could not place something it read "
                              "(said on stderr)."),
            ".TP", "2", _roff("Bad input or usage: one line names the input and what is wrong."),
            ".TP", "3", _roff("A bug in pvscan (--debug shows the traceback)."),
            ".TP", "130", "Interrupted.",
            ".SH SEE ALSO", _roff("The documentation in docs/ of the source distribution: scan.md, check.md, "
                                  "review.md, history.md, report.md, abi-format.md, rules.md."), ""]
    return "\n".join(line for line in out if line is not None)


# The options docs/cli.md tabulates: those that mean one thing on every command that has them.
SHARED_OPTIONS = ("-j", "--color", "--format", "-o", "--abi", "--backend", "--backend-map", "--fail-on",
                  "--progress", "-q", "-v")


def options_table(parser: argparse.ArgumentParser) -> str:
    """The Markdown table of docs/cli.md: which command takes which shared option."""
    cmds = [c for c in commands(parser) if c.name not in ("abi",)]
    head = "| option | " + " | ".join(f"`{c.name}`" for c in cmds) + " |"
    rows = [head, "|---|" + "---|" * len(cmds)]
    for flag in SHARED_OPTIONS:
        marks = []
        for c in cmds:
            o = next((o for o in c.options if flag in o.flags), None)
            marks.append("yes" if o is not None and (flag != "--backend" or "=" in o.metavar) else
                         "NAME" if o is not None else "")
        rows.append(f"| `{flag}` | " + " | ".join(marks) + " |")
    return "\n".join(rows) + "\n"
