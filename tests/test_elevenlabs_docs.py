"""docs/elevenlabs.md shows the server tools and the conversation initiation
configuration generated from the schemas; the tools say what a voice agent
needs to use them well (no Odoo, no server)."""

from pathlib import Path

import pytest
from helpers import pure_modules

conversation_init = pure_modules.load("lib.conversation_init")
elevenlabs_tools = pure_modules.load("lib.elevenlabs_tools")
request_schema = pure_modules.load("lib.request_schema")
DOC = Path(__file__).resolve().parents[1] / "docs" / "elevenlabs.md"
BASE_URL = "https://odoo.example.com"


@pytest.mark.parametrize("generator", [elevenlabs_tools, conversation_init])
def test_the_docs_show_the_generated_parts(generator):
    document = DOC.read_text()
    assert generator.BEGIN in document and generator.END in document
    assert document == generator.replace_docs_section(document), (
        "docs/elevenlabs.md is out of date: python3 scripts/elevenlabs_docs.py"
    )


def tools():
    return {
        tool["tool_config"]["name"]: tool["tool_config"]
        for tool in elevenlabs_tools.elevenlabs_tools(BASE_URL)
    }


def test_the_change_and_the_send_act_on_the_quotation_of_this_call():
    """Both post to the REST routes with the tracking id create_quotation
    left in the agent's variables: the LLM spells no id, and cannot reach
    another caller's quotation of the same voice agent user."""
    defined = tools()
    assert list(defined) == [
        "create_quotation",
        "get_quotation_status",
        "update_quotation",
        "send_quotation",
    ]
    create = defined["create_quotation"]
    assert create["assignments"][0]["dynamic_variable"] == "tracking_id"
    for name, action in (("update_quotation", "update"), ("send_quotation", "send")):
        api = defined[name]["api_schema"]
        assert (api["method"], api["url"]) == (
            "POST",
            f"{BASE_URL}/api/quotation/{{tracking_id}}/{action}",
        )
        assert api["path_params_schema"] == {
            "tracking_id": {"type": "string", "dynamic_variable": "tracking_id"}
        }
        assert api["request_headers"] == {
            "Authorization": {"secret_id": elevenlabs_tools.SECRET_PLACEHOLDER}
        }


def test_the_change_body_is_the_apis_without_what_a_voice_agent_cannot_know():
    body = tools()["update_quotation"]["api_schema"]["request_body_schema"]
    schema = request_schema.inline_json_schema(request_schema.QuotationUpdate)
    assert set(body["properties"]) == set(schema["properties"]) - {
        "expected_version",
        "idempotency_key",
    }
    line = body["properties"]["lines"]["items"]
    api_line = schema["properties"]["lines"]["items"]
    assert line["required"] == ["product", "quantity"]
    assert {name: prop["description"] for name, prop in line["properties"].items()} == {
        name: prop["description"] for name, prop in api_line["properties"].items()
    }
    # what the LLM fills in is what the API takes
    said = {"lines": [{"product": "CHAIR-ERG", "quantity": 3}]}
    assert request_schema.parse_update(said).lines[0].quantity == 3


def test_the_send_needs_the_callers_yes():
    send = tools()["send_quotation"]
    body = send["api_schema"]["request_body_schema"]
    assert body["required"] == ["confirm"]
    assert body["properties"] == {
        "confirm": {
            "type": "boolean",
            "description": request_schema.SendConfirmation.model_fields[
                "confirm"
            ].description,
        }
    }
    assert "clear yes" in send["description"]
    assert "confirm true" in send["description"]
    unconfirmed = request_schema.SendConfirmation.model_validate({})
    assert unconfirmed.confirm is False


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
