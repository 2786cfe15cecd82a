"""Paged list answers that fit in what Claude takes from one tool result.

No Odoo here. claude.ai and Claude Desktop take about 150,000 characters of a
tool result, Claude Code 25,000 tokens; JSON with accents and digits runs at
about three characters a token, so a page stops before ``BUDGET_CHARS`` of
items and its answer names the ``next_offset`` to ask for the rest.
"""

import json

BUDGET_CHARS = 60_000


def fit(items, offset, more, budget=BUDGET_CHARS):
    """``(items that fit, next_offset or None)``; ``more``: the query found
    records past these ``items``. At least one item is always kept."""
    kept, used = [], 0
    for item in items:
        used += len(json.dumps(item, ensure_ascii=False)) + 1
        if kept and used > budget:
            break
        kept.append(item)
    if more or len(kept) < len(items):
        return kept, offset + len(kept)
    return kept, None
