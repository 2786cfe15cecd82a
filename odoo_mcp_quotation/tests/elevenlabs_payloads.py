"""Post-call webhook deliveries as ElevenLabs builds them, for tests and screenshots.

The bodies follow ElevenLabs' documented format (``post_call_transcription``:
``data`` as the GET Conversation response, with transcript turns, metadata and
analysis; ``post_call_audio``: ``data.full_audio`` as base64 MP3) and are
signed as ElevenLabs signs them. No ORM: the outside-in tests use it too.
"""

import base64
import hashlib
import hmac
import json
import time

AGENT_ID = "agent_01jz8x3m5wfe5s7b2k9q4n6c1d"
SECRET = "wsec_3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a"
CALLER = "+34 611 222 333"
AGENT_NUMBER = "+34 910 555 010"

# (seconds into the call, role, what was said); None: a tool call, no speech
CONVERSATION = [
    (0, "agent", "Buenos días, Muebles Norte. ¿En qué puedo ayudarle?"),
    (
        4,
        "user",
        "Hola, necesito dos escritorios elevables y cuatro sillas ergonómicas "
        "para la oficina nueva.",
    ),
    (11, "agent", "Claro. ¿Me dice su nombre y un correo para enviarle la oferta?"),
    (16, "user", "Lucía Fernández, lucia.fernandez@example.com."),
    (22, "agent", None),
    (
        24,
        "agent",
        "Gracias, Lucía. La solicitud de presupuesto está registrada y estará "
        "lista en unos segundos.",
    ),
    (31, "user", "¿Llegarían los escritorios antes de marzo? Es lo que me preocupa."),
    (
        36,
        "agent",
        "No puedo prometerle una fecha, pero un comercial le confirmará la "
        "entrega por correo hoy mismo.",
    ),
    (43, "user", "Perfecto, muchas gracias. Adiós."),
]
SUMMARY = (
    "Lucía Fernández asked for a quotation for two standing desks and four "
    "ergonomic chairs for a new office. Her only concern is delivery before "
    "March; the agent promised no date and said a salesperson would confirm "
    "delivery by e-mail today."
)


def _turn(seconds, role, message):
    turn = {
        "role": role,
        "message": message,
        "tool_calls": [],
        "tool_results": [],
        "feedback": None,
        "llm_override": None,
        "time_in_call_secs": seconds,
        "conversation_turn_metrics": None,
        "rag_retrieval_info": None,
        "llm_usage": None,
        "interrupted": False,
        "original_message": None,
        "source_medium": "audio",
    }
    if message is None:
        turn["tool_calls"] = [
            {
                "type": "webhook",
                "request_id": "create_quotation_7f3a",
                "tool_name": "create_quotation",
                "params_as_json": json.dumps(
                    {
                        "customer_name": "Lucía Fernández",
                        "email": "lucia.fernandez@example.com",
                        "lines": [
                            {"product": "DESK-STD", "quantity": 2},
                            {"product": "Ergonomic Chair", "quantity": 4},
                        ],
                    }
                ),
                "tool_has_been_called": True,
            }
        ]
    return turn


def _collected(key, value, description):
    return {
        "data_collection_id": key,
        "value": value,
        "json_schema": {
            "type": "string",
            "description": description,
            "dynamic_variable": "",
            "constant_value": "",
        },
        "rationale": f"The caller said it during the call: {value}."
        if value
        else "The caller did not say it.",
    }


def transcription(
    conversation_id,
    *,
    caller=CALLER,
    name="Lucía Fernández",
    email="lucia.fernandez@example.com",
    outcome="success",
    summary=SUMMARY,
    started=None,
):
    """A ``post_call_transcription`` body (a dict) for one conversation."""
    started = int(time.time()) - 120 if started is None else started
    data_collection = {
        "customer_name": _collected("customer_name", name, "The caller's full name."),
        "email": _collected("email", email, "The caller's e-mail address."),
        "delivery_deadline": _collected(
            "delivery_deadline", "before March", "When the caller needs the goods."
        ),
    }
    phone_call = {
        "direction": "inbound",
        "phone_number_id": "PN7c1e5a3b9d2f4e6a8b0c",
        "agent_number": AGENT_NUMBER,
        "external_number": caller,
        "type": "twilio",
        "stream_sid": "MZ18ad3ab5a668481ce02b83e7395059f0",
        "call_sid": "CA1f2e3d4c5b6a798877665544332211aa",
    }
    return {
        "type": "post_call_transcription",
        "event_timestamp": started + 60,
        "data": {
            "agent_id": AGENT_ID,
            "conversation_id": conversation_id,
            "status": "done",
            "user_id": None,
            "transcript": [_turn(*turn) for turn in CONVERSATION],
            "metadata": {
                "start_time_unix_secs": started,
                "accepted_time_unix_secs": started,
                "call_duration_secs": 47,
                "cost": 412,
                "deletion_settings": {
                    "deletion_time_unix_secs": None,
                    "deleted_logs_at_time_unix_secs": None,
                    "deleted_audio_at_time_unix_secs": None,
                    "deleted_transcript_at_time_unix_secs": None,
                    "delete_transcript_and_pii": False,
                    "delete_audio": False,
                },
                "feedback": {"overall_score": None, "likes": 0, "dislikes": 0},
                "authorization_method": "authorization_header",
                "charging": {
                    "dev_discount": False,
                    "llm_price": 0.0021,
                    "llm_charge": 3,
                    "call_charge": 409,
                },
                "termination_reason": "Call ended by remote party",
                "error": None,
                "main_language": "es",
                "phone_call": phone_call if caller else None,
            },
            "analysis": {
                "evaluation_criteria_results": {
                    "quotation_requested": {
                        "criteria_id": "quotation_requested",
                        "result": outcome,
                        "rationale": "The agent called create_quotation with the "
                        "products and quantities the caller asked for.",
                    },
                    "no_delivery_promise": {
                        "criteria_id": "no_delivery_promise",
                        "result": "success",
                        "rationale": "Asked about March, the agent promised no "
                        "date and handed over to a salesperson.",
                    },
                },
                "data_collection_results": data_collection,
                "call_successful": outcome,
                "transcript_summary": summary,
            },
            "conversation_initiation_client_data": {
                "conversation_config_override": {
                    "agent": {"prompt": None, "first_message": None, "language": "es"},
                    "tts": {"voice_id": None},
                },
                "custom_llm_extra_body": {},
                "dynamic_variables": {
                    "system__agent_id": AGENT_ID,
                    "system__conversation_id": conversation_id,
                    "system__caller_id": (caller or "").replace(" ", ""),
                    "system__called_number": AGENT_NUMBER.replace(" ", ""),
                    "system__call_duration_secs": 47,
                    "system__time_utc": "2026-11-29T07:00:00Z",
                },
            },
            "has_audio": True,
            "has_user_audio": True,
            "has_response_audio": True,
        },
    }


def silent_mp3(seconds=2):
    """A real MP3 (MPEG-1 Layer III, 128 kbit/s, 44.1 kHz) of ``seconds`` of silence.

    Each 417-byte frame is a valid header followed by zeroed side information
    and main data, which decoders play as silence.
    """
    frame = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(413)
    return frame * round(seconds * 44100 / 1152)


def audio(conversation_id, recording=None):
    """A ``post_call_audio`` body (a dict): the recording, base64-encoded."""
    recording = silent_mp3() if recording is None else recording
    return {
        "type": "post_call_audio",
        "event_timestamp": int(time.time()),
        "data": {
            "agent_id": AGENT_ID,
            "conversation_id": conversation_id,
            "full_audio": base64.b64encode(recording).decode(),
        },
    }


def sign(raw, secret=SECRET, timestamp=None):
    """The ``ElevenLabs-Signature`` header, computed as ElevenLabs documents it.

    Written here, not taken from the addon: signing with the verifier's own
    code would pass whatever string the two agreed to sign.
    """
    timestamp = int(time.time()) if timestamp is None else timestamp
    payload = f"{timestamp}.{raw.decode()}"
    mac = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256)
    return f"t={timestamp},v0={mac.hexdigest()}"


def signed(body, secret=SECRET, timestamp=None):
    """``(raw body, headers)`` of a delivery, signed as ElevenLabs signs it."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    return raw, {
        "Content-Type": "application/json",
        "ElevenLabs-Signature": sign(raw, secret, timestamp),
        "User-Agent": "Python/3.12 aiohttp/3.11.16",
    }
