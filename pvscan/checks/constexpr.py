"""The value of a C constant expression from the headers' macros, as the bounds it must lie in.

A shared area's array sizes are often macros the configuration decides:
lguest_data's 'DECLARE_BITMAP(blocked_interrupts, LGUEST_IRQS)' with
'#define LGUEST_IRQS (NR_IRQS < 32 ? NR_IRQS: 32)', and NR_IRQS defined three
ways under #if. pvscan does not guess a configuration: it takes every
definition a macro has whose guard the ABI's configuration does not rule out,
and evaluates the expression over intervals. An identifier nothing defines (a
Kconfig number like NR_CPUS) may be any count, 0 or more. The result is exact
when every choice gives the same value: LGUEST_IRQS lies in [16, 32] whatever
NR_IRQS is, so its bitmap is one long on every target.

The min and max idioms ('A < B ? A : B') are evaluated as min and max: an
interval union of the two branches would forget that the condition chose.
"""

from __future__ import annotations

import math
import re

INF = math.inf
# What an expression may be: its least and greatest value (INF when unbounded).
Bounds = tuple[float, float]
# A token of an expression: ('num', 4), ('id', 'NR_CPUS'), ('op', '<<').
Token = tuple[str, "int | str"]
_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%<>?:(),!]))")
_MAX_DEPTH = 24
_MAX_ALTERNATIVES = 8
_BUDGET = 20000       # evaluations per Evaluator: macros that double at each level end here, not in a hang


class _Unknown(Exception):
    """An expression pvscan cannot bound."""


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    at = 0
    text = text.strip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise _Unknown(text)
        if m.group(1):
            out.append(("num", int(m.group(1), 0)))
        elif m.group(2):
            out.append(("id", m.group(2)))
        else:
            out.append(("op", m.group(3)))
        at = m.end()
    return out


class Evaluator:
    """Bounds of constant expressions. definitions: {macro: [(params or None, body)]}, the
    alternatives not ruled out; word_bits: the target's long."""

    def __init__(self, definitions: dict[str, list[tuple[list[str] | None, str]]], word_bits: int) -> None:
        self.definitions = definitions
        self.word_bits = word_bits
        self.known: dict[str, Bounds] = {}     # object-like macro -> its bounds, each evaluated once
        self.spent = 0

    def exact(self, text: str) -> int | None:
        """The value of text when every choice gives the same, else None."""
        try:
            lo, hi = self._value(text, 0)
        except (_Unknown, RecursionError, ZeroDivisionError, OverflowError):
            return None
        return int(lo) if lo == hi and lo not in (INF, -INF) else None

    def _value(self, text: str, depth: int) -> Bounds:
        self.spent += 1
        if depth > _MAX_DEPTH or self.spent > _BUDGET:
            raise _Unknown(text)
        parser = _Parser(_tokens(text), self, depth)
        value = parser.ternary()
        if parser.at != len(parser.tokens):
            raise _Unknown(text)
        return value

    def macro(self, name: str, args: list[str] | None, depth: int) -> Bounds:
        builtin = _BUILTINS.get(name)
        if builtin is not None and args is not None:
            # The kernel's own spelling goes through sizeof(long), which the target fixes.
            return builtin(self, [self._value(a, depth + 1) for a in args])
        if args is None and name in self.known:
            return self.known[name]
        value = self._macro(name, args, depth)
        if args is None:
            self.known[name] = value
        return value

    def _macro(self, name: str, args: list[str] | None, depth: int) -> Bounds:
        alternatives = self.definitions.get(name)
        if alternatives is None:
            if args is None and name in ("BITS_PER_LONG", "__BITS_PER_LONG"):
                return (self.word_bits, self.word_bits)
            if args is not None:
                raise _Unknown(name)
            return (0, INF)           # a number nothing here defines: any count
        lo, hi = INF, -INF
        for params, body in alternatives[:_MAX_ALTERNATIVES]:
            if params is None and args is None:
                pass
            elif params is None or args is None or len(params) != len(args):
                raise _Unknown(name)
            elif params:
                body = _substituted(body, params, args)
            a, b = self._value(body, depth + 1)
            lo, hi = min(lo, a), max(hi, b)
        if len(alternatives) > _MAX_ALTERNATIVES:
            raise _Unknown(name)
        return (lo, hi)


def _substituted(body: str, params: list[str], args: list[str]) -> str:
    """A function-like macro's body with its arguments in place of its parameters."""
    return re.sub(r"\b\w+\b", lambda m: f"({args[params.index(m.group(0))]})"
                  if m.group(0) in params else m.group(0), body)


def _div_round_up(ev: Evaluator, args: list[Bounds]) -> Bounds:
    (a_lo, a_hi), (b_lo, b_hi) = args
    if b_lo != b_hi or b_lo <= 0 or a_lo < 0:
        raise _Unknown("DIV_ROUND_UP")
    return (math.ceil(a_lo / b_lo), math.ceil(a_hi / b_lo) if a_hi != INF else INF)


def _bits_to_longs(ev: Evaluator, args: list[Bounds]) -> Bounds:
    return _div_round_up(ev, [args[0], (ev.word_bits, ev.word_bits)])


_BUILTINS = {"DIV_ROUND_UP": _div_round_up, "BITS_TO_LONGS": _bits_to_longs}


class _Parser:
    def __init__(self, tokens: list[Token], ev: Evaluator, depth: int) -> None:
        self.tokens, self.ev, self.depth, self.at = tokens, ev, depth, 0

    def peek(self) -> tuple[str, int | str | None]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", None)

    def take(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.at += 1
            return True
        return False

    def ternary(self) -> Bounds:
        start = self.at
        cond = self.logical()
        if not self.take("?"):
            return cond
        cond_tokens = self.tokens[start:self.at - 1]
        a_start = self.at
        a = self.ternary()
        a_tokens = self.tokens[a_start:self.at]
        if not self.take(":"):
            raise _Unknown("?:")
        b_start = self.at
        b = self.ternary()
        b_tokens = self.tokens[b_start:self.at]
        chosen = _min_max(cond_tokens, a_tokens, b_tokens)
        if chosen == "min":
            return (min(a[0], b[0]), min(a[1], b[1]))
        if chosen == "max":
            return (max(a[0], b[0]), max(a[1], b[1]))
        if cond[0] == cond[1]:
            return a if cond[0] else b
        if cond[0] > 0 or cond[1] < 0:
            return a
        return (min(a[0], b[0]), max(a[1], b[1]))

    def operator(self, ops: tuple[str, ...]) -> str | None:
        """The next token when it is one of ops (and step past it), else None."""
        kind, value = self.peek()
        if kind == "op" and value in ops:
            self.at += 1
            return value
        return None

    def logical(self) -> Bounds:
        left = self.comparison()
        while (op := self.operator(("&&", "||"))) is not None:
            right = self.comparison()
            lt, rt = _truth(left), _truth(right)
            if op == "&&":
                left = (0, 0) if 0 in (lt, rt) else (1, 1) if lt == rt == 1 else (0, 1)
            else:
                left = (1, 1) if 1 in (lt, rt) else (0, 0) if lt == rt == 0 else (0, 1)
        return left

    def comparison(self) -> Bounds:
        left = self.additive()
        while (op := self.operator(("<", ">", "<=", ">=", "==", "!="))) is not None:
            left = _compare(op, left, self.additive())
        return left

    def additive(self) -> Bounds:
        left = self.term()
        while (op := self.operator(("+", "-"))) is not None:
            r = self.term()
            left = (left[0] + r[0], left[1] + r[1]) if op == "+" else (left[0] - r[1], left[1] - r[0])
        return left

    def term(self) -> Bounds:
        left = self.unary()
        while (op := self.operator(("*", "/", "%"))) is not None:
            r = self.unary()
            left = _times(left, r) if op == "*" else _divide(left, r, op)
        return left

    def unary(self) -> Bounds:
        if self.take("-"):
            lo, hi = self.unary()
            return (-hi, -lo)
        if self.take("+"):
            return self.unary()
        if self.take("!"):
            t = _truth(self.unary())
            return (0, 1) if t is None else (1 - t, 1 - t)
        return self.primary()

    def primary(self) -> Bounds:
        kind, value = self.peek()
        self.at += 1
        if kind == "num" and isinstance(value, int):
            return (value, value)
        if kind == "op" and value == "(":
            inner = self.ternary()
            if not self.take(")"):
                raise _Unknown("(")
            return inner
        if kind == "id" and isinstance(value, str):
            if value == "sizeof":
                raise _Unknown("sizeof")
            args = None
            if self.peek() == ("op", "("):
                args = self._arguments()
            return self.ev.macro(value, args, self.depth)
        raise _Unknown(str(value))

    def _arguments(self) -> list[str]:
        self.take("(")
        args, depth, start = [], 0, self.at
        while self.at < len(self.tokens):
            kind, value = self.tokens[self.at]
            if kind == "op" and value == "(":
                depth += 1
            elif kind == "op" and value == ")":
                if depth == 0:
                    args.append(self.tokens[start:self.at])
                    self.at += 1
                    return [_text(a) for a in args]
                depth -= 1
            elif kind == "op" and value == "," and depth == 0:
                args.append(self.tokens[start:self.at])
                start = self.at + 1
            self.at += 1
        raise _Unknown("(")


def _text(tokens: list[Token]) -> str:
    return " ".join(str(v) for _, v in tokens)


def _min_max(cond: list[Token], a: list[Token], b: list[Token]) -> str | None:
    """'min' for 'A < B ? A : B' (and <=, and 'A > B ? B : A'), 'max' for the other way."""
    for i, (kind, op) in enumerate(cond):
        if kind == "op" and op in ("<", "<=", ">", ">="):
            left, right = cond[:i], cond[i + 1:]
            if (left, right) == (a, b):
                return "min" if op in ("<", "<=") else "max"
            if (left, right) == (b, a):
                return "max" if op in ("<", "<=") else "min"
    return None


def _truth(v: Bounds) -> int | None:
    lo, hi = v
    if lo == hi == 0:
        return 0
    if lo > 0 or hi < 0:
        return 1
    return None


def _compare(op: str, a: Bounds, b: Bounds) -> Bounds:
    always = {"<": a[1] < b[0], "<=": a[1] <= b[0], ">": a[0] > b[1], ">=": a[0] >= b[1],
              "==": a[0] == a[1] == b[0] == b[1], "!=": a[1] < b[0] or a[0] > b[1]}[op]
    never = {"<": a[0] >= b[1], "<=": a[0] > b[1], ">": a[1] <= b[0], ">=": a[1] < b[0],
             "==": a[1] < b[0] or a[0] > b[1], "!=": a[0] == a[1] == b[0] == b[1]}[op]
    return (1, 1) if always else (0, 0) if never else (0, 1)


def _times(a: Bounds, b: Bounds) -> Bounds:
    products = [x * y if x != 0 and y != 0 else 0 for x in a for y in b]
    return (min(products), max(products))


def _divide(a: Bounds, b: Bounds, op: str) -> Bounds:
    if b[0] != b[1] or b[0] <= 0 or a[0] < 0:
        raise _Unknown(op)
    d = b[0]
    if op == "%":
        return (a[0] % d, a[0] % d) if a[0] == a[1] else (0, d - 1)
    return (a[0] // d, a[1] // d if a[1] != INF else INF)
