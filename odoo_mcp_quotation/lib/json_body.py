"""The one JSON parser for bodies from outside: bounded, shallow, strict.

REST and MCP both decode request bodies here, so that every door refuses the
same things the same way: too large, nested too deep, not UTF-8, duplicated
keys, NaN and Infinity (not JSON), numbers too big for a float, and lone
UTF-16 surrogates (PostgreSQL cannot store them, nor can a reply echo them).
Python's own ``json`` recurses once per level and fails with RecursionError
past about a thousand; the depth is therefore measured before parsing.
Imports no Odoo, so that the MCP protocol layer can use it.
"""

import json
import math
import re
from collections import Counter

MAX_DEPTH = 32
MAX_INT_DIGITS = 18  # more than any quantity, id or limit; fits a bigint
# a JSON string, escapes included: its brackets are text, not nesting
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# depth does not care which kind of bracket: both become square ones
_SQUARE = bytes.maketrans(b"{}", b"[]")
# the only way to a lone surrogate: a \uD800-\uDFFF escape (raw bytes would
# not be UTF-8); bodies without one skip the walk over their strings
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# what text from outside may not carry once decoded: C0 and C1 controls (NUL
# included: PostgreSQL cannot store it) and the bidi embeddings, overrides and
# isolates that make text display as something else; the plain right-to-left
# and left-to-right marks stay allowed. A line carries no tab or line break.
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
FORBIDDEN_IN_TEXT = re.compile(f"[{_CONTROLS}]")
FORBIDDEN_IN_LINE = re.compile(f"[{_CONTROLS}\t\n\r]")


class JsonBodyError(ValueError):
    """A body that is not acceptable JSON; ``reason`` says what to fix."""

    def __init__(self, reason, too_large=False):
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large

    @classmethod
    def too_large_for(cls, max_bytes):
        return cls(f"The body is larger than {max_bytes // 1024} KB.", too_large=True)


def _refuse_constant(name):
    raise JsonBodyError(f"{name} is not a JSON number: send a finite number.")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise JsonBodyError(f"The number {text[:32]} is too large.")
    return value


def _bounded_int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonBodyError(f"The number {text[:32]}... is too large.")
    return int(text)


def _unique_keys(pairs):
    value = dict(pairs)
    if len(value) < len(pairs):
        counts = Counter(key for key, _item in pairs)
        twice = next(key for key, count in counts.items() if count > 1)
        raise JsonBodyError(f"The key {twice!r} appears twice: send it once.")
    return value


def _check_depth(data, max_depth):
    """Peel the innermost bracket pairs level by level, at C speed.

    Each pass removes every ``[]`` present before it: the leaves of the tree,
    one level. A balanced body is done after as many passes as it is deep; a
    run of more than ``max_depth`` openers is too deep at once; what is left
    after ``max_depth`` passes, or cannot be peeled (unbalanced), is counted
    bracket by bracket, stopping at the first level too deep.
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return  # too few brackets to nest too deep, strings included
    too_deep = JsonBodyError(f"The JSON is nested more than {max_depth} levels deep.")
    run = b"[" * (max_depth + 1)
    brackets = _STRING.sub(b"", data).translate(_SQUARE, _NOT_BRACKETS)
    peeled = brackets
    for _level in range(max_depth):
        if run in peeled:
            raise too_deep
        peeled, before = peeled.replace(b"[]", b""), peeled
        if not peeled:
            return
        if peeled == before:
            break
    depth = 0
    for char in brackets:
        depth += 1 if char == ord("[") else -1
        if depth > max_depth:
            raise too_deep


def _check_strings(value):
    """Every string must be encodable as UTF-8: no lone surrogate."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise JsonBodyError(
                "A string holds a lone UTF-16 surrogate (\\ud800 to \\udfff): "
                "send valid Unicode."
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def parse_json(data, max_bytes, max_depth=MAX_DEPTH):
    """Decode a request body (bytes); raise JsonBodyError saying what is wrong."""
    if len(data) > max_bytes:
        raise JsonBodyError.too_large_for(max_bytes)
    if not data.strip():
        raise JsonBodyError("The body is empty: send a JSON document.")
    _check_depth(data, max_depth)
    try:
        value = json.loads(
            data.decode(),
            object_pairs_hook=_unique_keys,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except JsonBodyError:
        raise
    except UnicodeDecodeError:
        raise JsonBodyError("The body is not valid UTF-8.") from None
    except ValueError as error:
        raise JsonBodyError(f"The body is not valid JSON ({error}).") from None
    if _SURROGATE_ESCAPE.search(data):
        _check_strings(value)
    return value
