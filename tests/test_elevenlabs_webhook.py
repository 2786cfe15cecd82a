"""ElevenLabs' post-call webhook against a real ``odoo-bin --workers 2``.

The voice agent asks for a quotation during the call over REST, as its server
tool does; after the call, signed deliveries arrive as ElevenLabs sends them,
and only Odoo's own cron workers land them on the opportunity.
"""

import time

import pytest
import requests
from helpers.odoo_rpc import Rpc, wait_for
from helpers.servers import start_odoo_server, stop_odoo_server
from helpers.voice_agent import ELEVENLABS_BODY, post_quotation, wait_until_final

from odoo.addons.odoo_mcp_quotation.tests import elevenlabs_payloads as payloads

SECRET_PARAM = "odoo_mcp_quotation.elevenlabs_webhook_secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_odoo_server(
        tmp_path_factory.mktemp("odoo-elevenlabs"),
        params={SECRET_PARAM: payloads.SECRET},
        # the integration user is the voice agent's: its calls join its tasks
        setup="env['ir.config_parameter'].set_param("
        "'odoo_mcp_quotation.elevenlabs_user_id', user.id)\n",
    )
    yield server
    stop_odoo_server(server)


def deliver(server, body=None, *, raw=None, headers=None):
    if raw is None:
        raw, headers = payloads.signed(body)
    return requests.post(
        f"{server.url}/api/elevenlabs/post-call", data=raw, headers=headers, timeout=30
    )


def landed_call(admin, conversation_id, *, with_audio=False):
    def ready():
        calls = admin(
            "elevenlabs.call",
            "search_read",
            [("conversation_id", "=", conversation_id)],
            fields=["state", "lead_id", "outcome", "audio_attachment_id", "summary"],
        )
        landed = calls and calls[0]["state"] != "waiting"
        heard = calls and (calls[0]["audio_attachment_id"] or not with_audio)
        return calls[0] if landed and heard else None

    return wait_for(ready, 60, f"the call {conversation_id} landed by the cron")


def test_the_call_lands_on_the_opportunity_of_its_quotation(server):
    admin = Rpc(server, "admin", "admin")
    conversation_id = "conv_it_01jz8x3m5w"
    queued = post_quotation(
        server, dict(ELEVENLABS_BODY, conversation_id=conversation_id)
    ).json()
    assert wait_until_final(server, queued["status_url"])["status"] == "done"
    (task,) = admin(
        "quotation.task",
        "search_read",
        [("tracking_id", "=", queued["tracking_id"])],
        fields=["lead_id"],
    )

    started = time.monotonic()
    transcript = deliver(server, payloads.transcription(conversation_id))
    answered_in = time.monotonic() - started
    assert transcript.status_code == 200, transcript.text
    assert transcript.json() == {"status": "queued"}
    assert answered_in < 5, f"ElevenLabs waited {answered_in:.1f} s for its 200"
    recording = payloads.silent_mp3(3)
    assert deliver(server, payloads.audio(conversation_id, recording)).json() == {
        "status": "queued"
    }

    call = landed_call(admin, conversation_id, with_audio=True)
    assert call["state"] == "landed"
    assert call["lead_id"][0] == task["lead_id"][0]
    assert call["outcome"] == "success"
    notes = admin(
        "mail.message",
        "search_read",
        [("model", "=", "crm.lead"), ("res_id", "=", task["lead_id"][0])],
        fields=["body", "attachment_ids"],
    )
    summary = next(note for note in notes if payloads.SUMMARY in note["body"])
    assert "antes de marzo" in summary["body"]
    assert any(call["audio_attachment_id"][0] in n["attachment_ids"] for n in notes)
    (attachment,) = admin(
        "ir.attachment",
        "read",
        [call["audio_attachment_id"][0]],
        ["mimetype", "file_size"],
    )
    assert (attachment["mimetype"], attachment["file_size"]) == (
        "audio/mpeg",
        len(recording),
    )


def test_refused_deliveries_write_nothing(server):
    admin = Rpc(server, "admin", "admin")

    def rows():
        return [
            admin(model, "search_count", [])
            for model in ("elevenlabs.webhook.delivery", "elevenlabs.call", "crm.lead")
        ]

    body = payloads.transcription("conv_it_refused")
    raw, headers = payloads.signed(body)
    accepted = deliver(server, raw=raw, headers=headers)
    assert accepted.status_code == 200
    landed_call(admin, "conv_it_refused")
    before = rows()

    stale_raw, stale = payloads.signed(body, timestamp=int(time.time()) - 1900)
    _raw, forged = payloads.signed(body, secret="wsec_guessed")
    refused = {
        "replayed": deliver(server, raw=raw, headers=headers),
        "stale": deliver(server, raw=stale_raw, headers=stale),
        "forged": deliver(server, raw=raw, headers=forged),
        "unsigned": deliver(
            server, raw=raw, headers={"Content-Type": "application/json"}
        ),
    }
    for name, response in refused.items():
        assert response.status_code == 401, (name, response.text)
    assert rows() == before


def test_anonymous_call_without_quotation_waits_for_triage(server):
    admin = Rpc(server, "admin", "admin")
    deliver(
        server,
        payloads.transcription(
            "conv_it_anonymous", caller=None, name=None, email=None, outcome="failure"
        ),
    )
    call = landed_call(admin, "conv_it_anonymous")
    assert (call["state"], call["lead_id"], call["outcome"]) == (
        "triage",
        False,
        "failure",
    )
    assert call["summary"] == payloads.SUMMARY
