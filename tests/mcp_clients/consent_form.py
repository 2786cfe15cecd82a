"""The hidden fields of Odoo's OAuth consent form, as a browser would post them.

Standard library only: both the test venv and the MCP SDK's venv import it.
"""

from html.parser import HTMLParser


class HiddenFields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value") or ""
