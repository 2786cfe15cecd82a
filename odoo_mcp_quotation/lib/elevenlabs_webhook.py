"""ElevenLabs post-call webhooks: the signature and the payload, nothing else.

ElevenLabs signs each delivery with ``ElevenLabs-Signature: t=<unix>,v0=<hex>``,
the HMAC-SHA256 of ``"{t}.{raw body}"`` under the webhook's secret. The body is
``{type, event_timestamp, data}``; ``data`` follows ElevenLabs' GET Conversation
response, which grows new fields over time, so unknown fields are accepted and
ignored while the ones Odoo reads are checked. This module imports no Odoo.
"""

import base64
import binascii
import hashlib
import hmac
import re
import time
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .request_schema import EMAIL_PATTERN, RequestInvalid, parse_object

SIGNATURE_HEADER = "ElevenLabs-Signature"
TOLERANCE_SECONDS = 30 * 60  # ElevenLabs: refuse timestamps older than 30 minutes
CLOCK_SKEW_SECONDS = 5 * 60  # a timestamp from the future: only clock drift
TRANSCRIPTION = "post_call_transcription"
AUDIO = "post_call_audio"
HANDLED_TYPES = (TRANSCRIPTION, AUDIO)
OUTCOMES = ("success", "failure", "unknown")
# ElevenLabs ids (conv_..., agent_...): also safe in S3 keys and file names
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
# ``t=<unix seconds>,v0=<64 hex>``, more than one v0 while a secret rotates:
# ASCII digits and hex only (``\d`` would take ``²``, ``int()`` 5,000 digits)
SIGNATURE_PART = re.compile(r"(t)=([0-9]{1,12})|(v0)=([0-9a-fA-F]{64})", re.ASCII)
MAX_SIGNATURES = 8
MAX_PARTS = 1 + MAX_SIGNATURES  # one t, then the v0s


class SignatureInvalid(Exception):
    """The delivery cannot be shown to come from ElevenLabs; the message says why."""


class Signature(NamedTuple):
    """A verified signature: its timestamp and the ``v0`` that matched."""

    timestamp: int
    v0: str

    @property
    def replay_key(self):
        """What a replay repeats, however its header is written: a SHA-256 of
        the timestamp and the matching signature, never the header itself."""
        return hashlib.sha256(f"{self.timestamp}.{self.v0}".encode()).hexdigest()


def parse_signature_header(header):
    """``(timestamp, [v0, ...])`` of a well-formed header, else SignatureInvalid.

    Every part is read and none is skipped: a header of more than
    ``MAX_PARTS`` parts is refused whole (split no further than that, however
    many commas it holds), as is one with an unknown part."""
    parts = (header or "").split(",", MAX_PARTS)
    matches = [SIGNATURE_PART.fullmatch(part) for part in parts[:MAX_PARTS]]
    if len(parts) <= MAX_PARTS and all(matches):
        timestamps = [int(match[2]) for match in matches if match[1]]
        signatures = [match[4].lower() for match in matches if match[3]]
        if len(timestamps) == 1 and signatures:
            return timestamps[0], signatures
    raise SignatureInvalid(
        f"Missing or malformed {SIGNATURE_HEADER} header: expected "
        "t=<unix seconds>,v0=<64 hex digits>, without spaces."
    )


def verify_signature(header, body, secret, now=None):
    """Check ``ElevenLabs-Signature`` over the raw ``body``; return the
    :class:`Signature` that matched (any listed ``v0`` may).

    Raises SignatureInvalid for a missing or malformed header, a timestamp out
    of the 30-minute window, or no signature that matches (each compared in
    constant time).
    """
    if not secret:
        raise SignatureInvalid(
            "No webhook secret is configured in Odoo: paste the secret ElevenLabs "
            "shows for the webhook in Sales > Settings > AI Quotations."
        )
    timestamp, signatures = parse_signature_header(header)
    now = time.time() if now is None else now
    if timestamp < now - TOLERANCE_SECONDS or timestamp > now + CLOCK_SKEW_SECONDS:
        raise SignatureInvalid(
            "The signature's timestamp is outside the 30-minute window."
        )
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    for v0 in signatures:
        if hmac.compare_digest(expected, v0):
            return Signature(timestamp, v0)
    raise SignatureInvalid("The signature does not match the webhook secret.")


# ---------------------------------------------------------------------- payload
class _Lenient(BaseModel):
    """ElevenLabs adds fields without notice: keep the ones we read, ignore the rest."""

    model_config = ConfigDict(extra="ignore")


class TranscriptTurn(_Lenient):
    role: Annotated[str, Field(max_length=32)]
    message: Annotated[str, Field(max_length=20_000)] | None = None
    time_in_call_secs: Annotated[float, Field(ge=0)] | None = None


class EvaluationResult(_Lenient):
    criteria_id: Annotated[str, Field(max_length=128)] | None = None
    result: Literal["success", "failure", "unknown"] | None = None
    rationale: Annotated[str, Field(max_length=4000)] | None = None


class CollectedData(_Lenient):
    data_collection_id: Annotated[str, Field(max_length=128)] | None = None
    value: Any = None
    rationale: Annotated[str, Field(max_length=4000)] | None = None


class Analysis(_Lenient):
    call_successful: Literal["success", "failure", "unknown"] | None = None
    transcript_summary: Annotated[str, Field(max_length=20_000)] | None = None
    evaluation_criteria_results: dict[str, EvaluationResult] = {}
    data_collection_results: dict[str, CollectedData] = {}


class PhoneCall(_Lenient):
    direction: Annotated[str, Field(max_length=16)] | None = None
    agent_number: Annotated[str, Field(max_length=32)] | None = None
    external_number: Annotated[str, Field(max_length=32)] | None = None
    type: Annotated[str, Field(max_length=32)] | None = None


class Metadata(_Lenient):
    start_time_unix_secs: Annotated[int, Field(ge=0)] | None = None
    call_duration_secs: Annotated[float, Field(ge=0)] | None = None
    termination_reason: Annotated[str, Field(max_length=256)] | None = None
    phone_call: PhoneCall | None = None


class CallData(_Lenient):
    agent_id: Annotated[str, Field(min_length=1, max_length=128)]
    conversation_id: Annotated[str, Field(pattern=CONVERSATION_ID.pattern)]
    transcript: Annotated[list[TranscriptTurn], Field(max_length=2000)] = []
    metadata: Metadata = Metadata()
    analysis: Analysis | None = None
    full_audio: str | None = None

    @field_validator("full_audio")
    @classmethod
    def _check_audio(cls, value):
        if value is None:
            return value
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("Not base64-encoded audio.") from None
        return value


class PostCallEvent(_Lenient):
    type: Literal["post_call_transcription", "post_call_audio"]
    event_timestamp: Annotated[int, Field(ge=0)]
    data: CallData

    def audio_bytes(self):
        return base64.b64decode(self.data.full_audio) if self.data.full_audio else b""


def parse_event(payload):
    """A validated post-call event; RequestInvalid lists every problem.

    Returns None for event types Odoo does not handle (such as
    ``call_initiation_failure``): they are acknowledged and ignored.
    """
    kind = payload.get("type") if isinstance(payload, dict) else None
    if isinstance(kind, str) and kind not in HANDLED_TYPES:
        return None
    event = parse_object(PostCallEvent, payload)
    if event.type == AUDIO and not event.data.full_audio:
        raise RequestInvalid(
            [{"field": "data.full_audio", "message": "This field is required."}]
        )
    return event


def collected_value(analysis, *names):
    """The first non-empty text collected under one of the ids ``names``."""
    results = analysis.data_collection_results if analysis else {}
    for name in names:
        value = results[name].value if name in results else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def caller_email(analysis):
    email = collected_value(
        analysis, "email", "customer_email", "caller_email", "email_address"
    )
    return email.lower() if email and EMAIL_PATTERN.match(email) else None


def caller_number(metadata):
    """The customer's number: the caller on inbound calls, the callee outbound."""
    phone = metadata.phone_call
    return phone.external_number if phone and phone.external_number else None
