"""Reading user TOML files (backend maps, ABI declarations) with errors that name the line."""

from __future__ import annotations

import hashlib
import json
import re

from pvscan.cache import Cache, Store, format_stamp, json_store
from pvscan.errors import PvscanError
from pvscan.run import Run
from pvscan.source.files import read_input


def _document_entry(digest: str, document: dict) -> dict | None:
    """Only what JSON gives back unchanged is kept (TOML dates and NaN do not come back equal)."""
    try:
        same = json.loads(json.dumps(document)) == document
    except (TypeError, ValueError):
        same = False
    return {"sha256": digest, "document": document} if same else None


# The document a TOML file's bytes parse to, keyed by the SHA-256 of the bytes (hashed once a read).
DOCUMENTS: Store[str, dict] = json_store(
    "toml", format_stamp, lambda digest: digest, _document_entry,
    lambda digest, doc: (isinstance(doc, dict) and doc.get("sha256") == digest
                         and isinstance(doc.get("document"), dict)),
    lambda doc: doc["document"], "not a parsed TOML document")


def load_toml(path: str, what: str = "the file", run: Run | None = None) -> dict:
    return parse_toml(read_input(path, what), path, run)


def parse_toml(raw: bytes, path: str, run: Run | None = None) -> dict:
    """The document, from the cache when these bytes were parsed before: tomllib reads strings
    a character at a time, and an ABI file is mostly strings (30 ms for xen-pv.toml). run: the
    run reading it (a file read without one is a run of its own)."""
    cache = Cache.for_run(run or Run())
    digest = hashlib.sha256(raw).hexdigest()
    doc = cache.get(DOCUMENTS, digest)
    if doc is None:
        doc = _parse(raw, path)
        cache.put(DOCUMENTS, digest, doc)
    cache.tell()
    return doc


def _parse(raw: bytes, path: str) -> dict:
    import tomllib

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise PvscanError("not UTF-8 text", path, line) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise PvscanError("not a file pvscan reads: arrays or tables nested too deep", path) from None
    except ValueError as e:
        if isinstance(e, tomllib.TOMLDecodeError):
            raise _decode_error(e, text, path) from None
        if "limit" in str(e) and "digits" in str(e):
            # Python's bound on integer digits (4,300): no value pvscan reads is that long.
            raise PvscanError("not a file pvscan reads: an integer of more than 4300 digits", path) from None
        raise PvscanError(f"not valid TOML: {' '.join(str(e).split())}", path) from None   # a date past its range


def _decode_error(e: Exception, text: str, path: str) -> PvscanError:
    """tomllib's error as one line that names the file and the line."""
    message = str(e)
    m = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(m.group(1)) if m else None
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
    if "(at end of document)" in message:
        line = text.count("\n") + 1
        message = message.replace(" (at end of document)", "")
    return PvscanError(f"not valid TOML: {message}", path, line)
