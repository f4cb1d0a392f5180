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
from functools import lru_cache

# Integers the facts hold are line numbers and indices: anything larger is not ours.
_MAX_INT = 1 << 40


class DecodeError(ValueError):
    """The document is not what encode() would have written for that type."""


def encode(value) -> bytes:
    # ASCII: a file name that is not UTF-8 (surrogate escapes) survives as a JSON escape.
    return json.dumps(_plain(value), ensure_ascii=True, separators=(",", ":")).encode("ascii")


def decode(data: bytes, tp):
    """A value of type tp from encode()'s bytes; DecodeError for anything else."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DecodeError(f"not JSON: {type(e).__name__}") from None
    return _value(tp, doc)


def _plain(v):
    if dataclasses.is_dataclass(v):
        return [_plain(getattr(v, f.name)) for f in dataclasses.fields(v)]
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


@lru_cache(maxsize=None)
def _fields(cls):
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _value(tp, v):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _value(option, v)
            except DecodeError:
                continue
        raise DecodeError(f"{_short(v)} is none of {tp}")
    if tp is type(None):
        if v is not None:
            raise DecodeError(f"{_short(v)} is not null")
        return None
    if tp is bool:
        if not isinstance(v, bool):
            raise DecodeError(f"{_short(v)} is not a boolean")
        return v
    if tp is int:
        if not isinstance(v, int) or isinstance(v, bool) or abs(v) > _MAX_INT:
            raise DecodeError(f"{_short(v)} is not a line number or index")
        return v
    if tp is str:
        if not isinstance(v, str):
            raise DecodeError(f"{_short(v)} is not a string")
        return v
    if origin is tuple:
        return _tuple(typing.get_args(tp), v)
    if dataclasses.is_dataclass(tp):
        fields = _fields(tp)
        if not isinstance(v, list) or len(v) != len(fields):
            raise DecodeError(f"{_short(v)} is not a {tp.__name__}")
        return tp(*(_value(ftype, x) for (_, ftype), x in zip(fields, v)))
    raise DecodeError(f"no decoding for {tp}")


def _tuple(args, v):
    if not isinstance(v, list):
        raise DecodeError(f"{_short(v)} is not a list")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_value(args[0], x) for x in v)
    if len(v) != len(args):
        raise DecodeError(f"a list of {len(v)} where {len(args)} were expected")
    return tuple(_value(a, x) for a, x in zip(args, v))


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
