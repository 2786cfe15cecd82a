"""The generated parts of the guides, each between its two markers: rewritten
by ``scripts/elevenlabs_docs.py``, checked by a test (no Odoo)."""


def replace_section(document, begin, end, section):
    """``document`` with the part from ``begin`` to ``end`` replaced by
    ``section`` (which starts with ``begin`` and ends with ``end``)."""
    head, _begin, rest = document.partition(begin)
    _old, _end, tail = rest.partition(end)
    return head + section + tail
