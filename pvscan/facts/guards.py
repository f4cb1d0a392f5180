"""Evaluating a guard under a configuration, in three values; the options a guard names, and
the configurations of a few options, for the stages that compare guards (tables, kconfig).

An ABI declares the configuration it covers ([abi.config]: CONFIG_X = true,
CONFIG_PGTABLE_LEVELS = 4). A guard is true, false, or unknown when it
names a symbol the configuration does not give. The grammar is the C
preprocessor's: defined(X), !, &&, ||, comparisons, +, -, integers.

A configuration completed from a tree's Kconfig may give an integer
option a set of possible values (frozenset({4, 5}): PGTABLE_LEVELS on
x86-64, 5 only with X86_5LEVEL). A guard is then true or false only when it
is so for every value; each use of the symbol ranges over the set on its
own, which can leave a guard unknown that is not, never the reverse.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping

_TOKEN = re.compile(r"\s*(defined|\d+[uUlL]*|[A-Za-z_][A-Za-z0-9_]*|&&|\|\||==|!=|<=|>=|<<|>>|[!()<>+\-*/])")

UNKNOWN = None
# What a subexpression evaluates to: a truth, an integer, the set of integers it may be (a
# configuration's option with several possible values), or UNKNOWN (None).
Value = bool | int | frozenset[int] | None
# A configuration: {CONFIG_X: True/False, an integer, or the set of integers it may be}.
Config = Mapping[str, bool | int | frozenset[int]]
_OPTION = re.compile(r"\bCONFIG_([A-Za-z0-9_]+)\b")


def config_options(*exprs: str | None) -> list[str]:
    """The options the guards name, without CONFIG_, sorted: 'defined(CONFIG_X86_PAE)' -> X86_PAE."""
    return sorted({name for e in exprs if e for name in _OPTION.findall(e)})


def configurations(names: list[str]) -> Iterator[dict[str, bool]]:
    """Every assignment of True/False to the options names, as {name: bool}."""
    for values in itertools.product((False, True), repeat=len(names)):
        yield dict(zip(names, values))


def as_config(chosen: Mapping[str, bool]) -> dict[str, bool]:
    """{X86_PAE: True} -> {CONFIG_X86_PAE: True}, the shape evaluate() takes."""
    return {f"CONFIG_{n}": v for n, v in chosen.items()}


def evaluate(expr: str | None, config: Config) -> tuple[bool | None, set[str]]:
    """True, False or None (unknown), and the symbols that made it unknown."""
    if expr is None:
        return True, set()
    tokens = _tokens(expr)
    if tokens is None:
        return UNKNOWN, {expr}
    parser = _Parser(tokens, config)
    try:
        value = parser.expr()
    except (IndexError, ValueError):
        return UNKNOWN, {expr}
    if parser.pos != len(tokens):
        return UNKNOWN, {expr}
    truth = _truth(value)
    if truth is UNKNOWN:
        return UNKNOWN, parser.missing or {expr}
    return truth, set()


def _truth(value: Value) -> bool | None:
    if isinstance(value, frozenset):
        truths = {bool(v) for v in value}
        return truths.pop() if len(truths) == 1 else UNKNOWN
    return UNKNOWN if value is UNKNOWN else bool(value)


def _apply(fn: Callable[[int, int], bool | int], a: Value, b: Value) -> Value:
    """fn(a, b) on integers, where either may be a set of possible values: the set of results,
    or the one result they all give."""
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    results = frozenset(fn(int(x), int(y)) for x in (a if isinstance(a, frozenset) else (a,))
                        for y in (b if isinstance(b, frozenset) else (b,)))
    return next(iter(results)) if len(results) == 1 else results


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
_ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b}


def _tokens(expr: str) -> list[str] | None:
    out: list[str] = []
    pos = 0
    while pos < len(expr):
        if expr[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(expr, pos)
        if not m:
            return None
        out.append(m.group(1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str], config: Config) -> None:
        self.t = tokens
        self.pos = 0
        self.config = config
        self.missing: set[str] = set()

    def peek(self) -> str | None:
        return self.t[self.pos] if self.pos < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.t[self.pos]
        if expected is not None and tok != expected:
            raise ValueError(tok)
        self.pos += 1
        return tok

    def expr(self) -> Value:
        left = self.conj()
        while self.peek() == "||":
            self.take()
            right = self.conj()
            a, b = _truth(left), _truth(right)
            left = True if (a or b) else (UNKNOWN if UNKNOWN in (a, b) else False)
        return left

    def conj(self) -> Value:
        left = self.compare()
        while self.peek() == "&&":
            self.take()
            right = self.compare()
            a, b = _truth(left), _truth(right)
            left = False if (a is False or b is False) else (UNKNOWN if UNKNOWN in (a, b) else True)
        return left

    def compare(self) -> Value:
        left = self.additive()
        while self.peek() in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()
            left = _apply(_COMPARE[op], left, self.additive())
        return left

    def additive(self) -> Value:
        left = self.unary()
        while self.peek() in ("+", "-"):
            op = self.take()
            left = _apply(_ARITHMETIC[op], left, self.unary())
        return left

    def unary(self) -> Value:
        tok = self.peek()
        if tok == "!":
            self.take()
            v = _truth(self.unary())
            return UNKNOWN if v is UNKNOWN else (not v)
        if tok == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if tok == "defined":
            self.take()
            paren = self.peek() == "("
            if paren:
                self.take("(")
            name = self.take()
            if paren:
                self.take(")")
            return self.symbol(name, defined=True)
        tok = self.take()
        digits = re.match(r"\d+", tok)
        if digits is not None:
            return int(digits.group(0))
        return self.symbol(tok, defined=False)

    def symbol(self, name: str, defined: bool) -> Value:
        if name not in self.config:
            self.missing.add(name)
            return UNKNOWN
        value = self.config[name]
        if isinstance(value, frozenset):
            self.missing.add(name)     # what leaves the guard unknown, if it stays so
        if defined:
            return value is not False
        if value is True:
            return 1
        if value is False:
            return 0
        return value
