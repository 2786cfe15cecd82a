"""Rewrite the generated part of docs/elevenlabs.md (the conversation
initiation webhook's variables and configuration) from the addon's schema."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from helpers import pure_modules  # noqa: E402

if __name__ == "__main__":
    doc = REPO / "docs" / "elevenlabs.md"
    conversation_init = pure_modules.load("lib.conversation_init")
    doc.write_text(conversation_init.replace_docs_section(doc.read_text()))
