"""Rewrite the generated parts of docs/elevenlabs.md (the server tools'
definitions, the conversation initiation webhook's variables and
configuration) from the addon's schemas."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import pure_modules  # noqa: E402

GENERATORS = ("lib.elevenlabs_tools", "lib.conversation_init")

if __name__ == "__main__":
    doc = REPO / "docs" / "elevenlabs.md"
    document = doc.read_text()
    for name in GENERATORS:
        document = pure_modules.load(name).replace_docs_section(document)
    doc.write_text(document)
