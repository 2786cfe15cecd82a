"""docs/elevenlabs.md shows the conversation initiation configuration
generated from the variables' schema (no Odoo, no server)."""

from pathlib import Path

from helpers import pure_modules

conversation_init = pure_modules.load("lib.conversation_init")
DOC = Path(__file__).resolve().parents[1] / "docs" / "elevenlabs.md"


def test_the_docs_show_the_generated_configuration():
    document = DOC.read_text()
    assert conversation_init.BEGIN in document
    assert document == conversation_init.replace_docs_section(document), (
        "docs/elevenlabs.md is out of date: python3 scripts/conversation_init_docs.py"
    )


def test_the_prompt_uses_every_variable_and_no_other():
    prompt = conversation_init.PROMPT
    used = set(conversation_init.re.findall(r"\{\{(\w+)\}\}", prompt))
    assert used == set(conversation_init.CallerVariables.model_fields)


def test_the_placeholders_cover_every_variable_empty():
    config = conversation_init.agent_configuration("https://odoo.example.com")
    agent = config["agent"]["conversation_config"]["agent"]
    placeholders = agent["dynamic_variables"]["dynamic_variable_placeholders"]
    assert (
        placeholders
        == conversation_init.initiation_answer({}, set())["dynamic_variables"]
    )


def test_personal_data_is_off_by_default():
    defaults = conversation_init.shareable()
    assert not defaults["customer_name"] and not defaults["customer_email"]
    assert "customer_known" not in defaults
