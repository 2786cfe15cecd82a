"""What the one strict JSON parser costs next to plain ``json.loads``, side by side.

    python3 scripts/harness.py bench bench_json_body

Bodies as agents send them (a typical REST request, the same as an MCP
``tools/call``, a 100-line request) and a hostile one (5,000 levels deep,
where ``json.loads`` raises RecursionError). Best of 5 rounds each; only the
ratios in one run mean anything on a shared machine.
"""

import contextlib
import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import pure_modules

json_body = pure_modules.load("lib.json_body")
LIMIT = 1024 * 1024

REQUEST = {
    "customer_name": "Ana García",
    "email": "ana@example.com",
    "phone": "+34 600 000 000",
    "notes": "Needs them before March, delivered to the second floor." * 4,
    "lines": [{"product": "DESK-STD", "quantity": 2}] * 5,
}
BODIES = {
    "REST request": json.dumps(REQUEST).encode(),
    "MCP tools/call": json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "create_quotation", "arguments": REQUEST},
        }
    ).encode(),
    "100-line request": json.dumps(
        {
            **REQUEST,
            "notes": "n" * 4000,
            "lines": [{"product": f"P{i:03d}", "quantity": i + 1} for i in range(100)],
        }
    ).encode(),
    "5,000 levels deep": b"[" * 5000 + b"]" * 5000,
}


def best_microseconds(function, body, number=2000):
    def run():
        with contextlib.suppress(ValueError, RecursionError):
            function(body)

    return min(timeit.repeat(run, number=number, repeat=5)) / number * 1e6


def main():
    print(
        f"{'body':<20} {'bytes':>7} {'json.loads':>12} {'parse_json':>12} {'ratio':>6}"
    )
    for name, body in BODIES.items():
        plain = best_microseconds(json.loads, body)
        strict = best_microseconds(lambda data: json_body.parse_json(data, LIMIT), body)
        print(
            f"{name:<20} {len(body):>7} {plain:>10.1f}us {strict:>10.1f}us "
            f"{strict / plain:>6.2f}"
        )


if __name__ == "__main__":
    main()
