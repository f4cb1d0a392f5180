"""Facts as data: JSON that can only ever become the facts' own dataclasses.

The facts cache is shared (CI caches are restored from other branches and
handed between jobs), so what it holds is untrusted input. Nothing in it is
unpickled or executed: a document is plain JSON, and decoding checks every
value against the type its dataclass field declares (str, int, bool, None,
tuples, nested dataclasses). Anything else raises DecodeError, which the
cache treats as a miss.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

# Integers the facts hold are line numbers and indices: anything larger is not ours.
_MAX_INT = 1 << 40
# A JSON value as json.loads gives it, and a type as the facts' annotations spell it (a class,
# 'X | None', 'tuple[X, ...]'): both are what the codec inspects at run time.
Json = Any
TypeForm = Any
# Decodes one JSON value into a value of one type, or raises DecodeError.
Decoder = Callable[[Json], Any]


class DecodeError(ValueError):
    """The document is not what encode() would have written for that type."""


def encode(value: object) -> bytes:
    # ASCII: a file name that is not UTF-8 (surrogate escapes) survives as a JSON escape.
    return json.dumps(_plain(value), ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode(data: bytes, tp: TypeForm) -> Any:
    """A value of type tp from encode()'s bytes; DecodeError for anything else."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DecodeError(f"not JSON: {type(e).__name__}") from None
    return _value(tp, doc)


def _plain(v: object) -> Json:
    if dataclasses.is_dataclass(v):
        return [_plain(getattr(v, f.name)) for f in dataclasses.fields(v)]
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


@lru_cache(maxsize=None)
def _fields(cls: type) -> tuple[tuple[str, TypeForm], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _value(tp: TypeForm, v: Json) -> Any:
    return _decoder(tp)(v)


@lru_cache(maxsize=None)
def _decoder(tp: TypeForm) -> Decoder:
    """A function that decodes a value of type tp, made once per type: the type is looked at
    here, not again for each of the thousands of values a cache entry holds."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(tp)
    scalar = {type(None): _null, bool: _bool, int: _int, str: _str}.get(tp)
    if scalar is not None:
        return scalar
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return _tuple_of(args[0])
        return _fixed_tuple(args)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)

    def undecodable(v: Json) -> Any:
        raise DecodeError(f"no decoding for {tp}")
    return undecodable


def _union_decoder(tp: TypeForm) -> Decoder:
    args = typing.get_args(tp)
    if len(args) == 2 and type(None) in args:
        # 'X | None', most unions of the facts: no failed attempt (an exception) per value.
        inner = _decoder(next(a for a in args if a is not type(None)))

        def optional(v: Json) -> Any:
            return None if v is None else inner(v)
        return optional
    options = tuple(_decoder(option) for option in args)

    def union(v: Json) -> Any:
        for option in options:
            try:
                return option(v)
            except DecodeError:
                continue
        raise DecodeError(f"{_short(v)} is none of {tp}")
    return union


# The scalars, one test a value (json.loads gives exactly these types): thousands an entry.
def _scalar(tp: type, what: str) -> Decoder:
    def scalar(v: Json) -> Any:
        if type(v) is not tp:
            raise DecodeError(f"{_short(v)} is not {what}")
        return v
    return scalar


_null = _scalar(type(None), "null")
_bool = _scalar(bool, "a boolean")
_str = _scalar(str, "a string")


def _int(v: Json) -> int:
    if type(v) is not int or abs(v) > _MAX_INT:
        raise DecodeError(f"{_short(v)} is not a line number or index")
    return v


def _tuple_of(item_type: TypeForm) -> Decoder:
    item: list[Decoder] = []      # filled at the first value: a type may contain itself

    def tuple_of(v: Json) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise DecodeError(f"{_short(v)} is not a list")
        if not item:
            item.append(_decoder(item_type))
        return tuple(map(item[0], v))
    return tuple_of


def _fixed_tuple(args: tuple[TypeForm, ...]) -> Decoder:
    items: list[Decoder] = []

    def fixed(v: Json) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise DecodeError(f"{_short(v)} is not a list")
        if len(v) != len(args):
            raise DecodeError(f"a list of {len(v)} where {len(args)} were expected")
        if not items:
            items.extend(_decoder(a) for a in args)
        return tuple([d(x) for d, x in zip(items, v)])
    return fixed


def _dataclass(cls: type) -> Decoder:
    fields: list[Decoder] = []

    def dataclass(v: Json) -> Any:
        if not fields:
            fields.extend(_decoder(ftype) for _, ftype in _fields(cls))
        if not isinstance(v, list) or len(v) != len(fields):
            raise DecodeError(f"{_short(v)} is not a {cls.__name__}")
        return cls(*[d(x) for d, x in zip(fields, v)])
    return dataclass


def _short(v: Json) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
