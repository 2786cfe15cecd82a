"""The one JSON parser for bodies from outside: bounded, shallow, strict.

REST, MCP, OAuth and webhook bodies are decoded here, so that every door
refuses the same things the same way. ``pydantic_core.from_json`` parses (in
Rust, without recursing on the Python stack) and itself refuses what is not
JSON: NaN and Infinity, bad UTF-8, lone UTF-16 surrogates (PostgreSQL cannot
store them, nor can a reply echo them), nesting past its own limit of about
200 levels. One walk over the result then refuses what it lets through:
nesting past ``MAX_DEPTH``, duplicated keys (it keeps the last), numbers too
big for a float or a bigint. Imports no Odoo, so that the MCP protocol layer
can use it.
"""

import json
import math
import re
from collections import Counter

from pydantic_core import from_json

MAX_DEPTH = 32
MAX_INT_DIGITS = 18  # more than any quantity, id or limit; fits a bigint
LARGEST_INT = 10**MAX_INT_DIGITS - 1
# a JSON string, escapes included: its colons and brackets are text
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# depth does not care which kind of bracket: both become square ones
_SQUARE = bytes.maketrans(b"{}", b"[]")
_CONSTANT = re.compile(rb"-?Infinity|NaN")
# the only way to a lone surrogate: a \uD800-\uDFFF escape (raw bytes would
# not be UTF-8)
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


def _unique_keys(pairs):
    value = dict(pairs)
    if len(value) < len(pairs):
        counts = Counter(key for key, _item in pairs)
        twice = next(key for key, count in counts.items() if count > 1)
        raise JsonBodyError(f"The key {twice!r} appears twice: send it once.")
    return value


def _too_deep(max_depth):
    return JsonBodyError(f"The JSON is nested more than {max_depth} levels deep.")


def _check_depth(data, max_depth):
    """For a body that is no JSON: raise if its brackets nest too deep.

    Peel the innermost bracket pairs level by level, at C speed.

    Each pass removes every ``[]`` present before it: the leaves of the tree,
    one level. A balanced body is done after as many passes as it is deep; a
    run of more than ``max_depth`` openers is too deep at once; what is left
    after ``max_depth`` passes, or cannot be peeled (unbalanced), is counted
    bracket by bracket, stopping at the first level too deep.
    """
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return  # too few brackets to nest too deep, strings included
    too_deep = _too_deep(max_depth)
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


def _not_json(data, error, max_depth):
    """What is wrong with a body ``from_json`` refused, in our words."""
    reason = str(error)
    if "recursion limit" in reason:
        return _too_deep(max_depth)
    try:
        _check_depth(data, max_depth)
    except JsonBodyError as too_deep:
        return too_deep
    try:
        data.decode()
    except UnicodeDecodeError:
        return JsonBodyError("The body is not valid UTF-8.")
    if ("surrogate" in reason or "hex escape" in reason) and _SURROGATE_ESCAPE.search(
        data
    ):
        return JsonBodyError(
            "A string holds a lone UTF-16 surrogate (\\ud800 to \\udfff): "
            "send valid Unicode."
        )
    constant = _CONSTANT.search(_STRING.sub(b"", data))
    if constant:
        name = constant.group().decode()
        return JsonBodyError(f"{name} is not a JSON number: send a finite number.")
    return JsonBodyError(f"The body is not valid JSON ({reason}).")


def _check_tree(data, value, max_depth):
    """Walk the decoded body once, level by level: depth, numbers, and as
    many keys as the body has key separators (else one was sent twice)."""
    level, depth, keys = [value], 0, 0
    while level:
        depth += 1
        below = []
        for item in level:
            kind = type(item)
            if kind is str:
                continue
            if kind is dict or kind is list:
                if depth > max_depth:
                    raise _too_deep(max_depth)
                if kind is dict:
                    keys += len(item)
                    below.extend(item.values())
                else:
                    below.extend(item)
            elif kind is int and not -LARGEST_INT <= item <= LARGEST_INT:
                raise JsonBodyError(f"The number {str(item)[:32]}... is too large.")
            elif kind is float and not math.isfinite(item):
                raise JsonBodyError("A number is too large: send a finite number.")
        level = below
    # every key has its separator, and colons outside strings are nothing else
    if keys < data.count(b":") and keys < _STRING.sub(b"", data).count(b":"):
        json.loads(data, object_pairs_hook=_unique_keys)  # names the key


def parse_json(data, max_bytes, max_depth=MAX_DEPTH):
    """Decode a request body (bytes); raise JsonBodyError saying what is wrong."""
    if len(data) > max_bytes:
        raise JsonBodyError.too_large_for(max_bytes)
    if not data.strip():
        raise JsonBodyError("The body is empty: send a JSON document.")
    try:
        value = from_json(data, allow_inf_nan=False)
    except ValueError as error:
        raise _not_json(data, error, max_depth) from None
    _check_tree(data, value, max_depth)
    return value
