"""The one JSON parser for bodies from outside, on its own (no Odoo, no server)."""

import json

import pytest
from helpers import pure_modules

json_body = pure_modules.load("lib.json_body")
LIMIT = 1024 * 1024


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 5000, "nested more than 32"),
        (b'{"a":' * 5000, "nested more than 32"),
        (b"[" * 33 + b"]" * 33, "nested more than 32"),
        (b"[" * 40 + b"1" + b"]" * 39, "nested more than 32"),
        (b"[[]," * 33 + b"0" + b"]" * 33, "nested more than 32"),
        (b'{"a":[{},' * 17 + b"0" + b"]}" * 17, "nested more than 32"),
        (b'{"qty": 1, "qty": 100}', "'qty' appears twice"),
        (b"[NaN]", "NaN is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b"[1e999]", "too large"),
        (b"[" + b"9" * 19 + b"]", "too large"),
        (b'"\\ud800"', "lone UTF-16 surrogate"),
        (b'{"\\udfff": 1}', "lone UTF-16 surrogate"),
        (b'"\xff"', "not valid UTF-8"),
        (b"  ", "empty"),
        (b'{"a": 1}{"b": 2}', "not valid JSON"),
        (b" " * (LIMIT + 1), "larger than 1024 KB"),
    ],
)
def test_refused_bodies_say_what_is_wrong(body, reason):
    with pytest.raises(json_body.JsonBodyError, match=reason) as refused:
        json_body.parse_json(body, LIMIT)
    assert refused.value.too_large == body.startswith(b" " * 100)


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b"[" * 32 + b"]" * 32, json.loads("[" * 32 + "]" * 32)),
        (b"[[]," * 31 + b"0" + b"]" * 31, json.loads("[[]," * 31 + "0" + "]" * 31)),
        (b'"\\ud83d\\ude00 ok"', "\U0001f600 ok"),
        (
            b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"{{{{"}',
            {"a": "[" * 40 + '"{{{{'},
        ),
        (b'{"qty": 999999999999999999}', {"qty": 999999999999999999}),
        (b'{"n": -1.5e300}', {"n": -1.5e300}),
    ],
)
def test_accepted_bodies(body, value):
    assert json_body.parse_json(body, LIMIT) == value
