"""A voice agent's REST calls, as an ElevenLabs server tool makes them."""

import time

import requests

# What an ElevenLabs webhook tool sends, built from the body schema in
# docs/elevenlabs.md; conversation_id comes from system__conversation_id.
ELEVENLABS_BODY = {
    "customer_name": "Lucía Fernández",
    "email": "lucia.fernandez@example.com",
    "phone": "+34 611 222 333",
    "lang": "es",
    "notes": "Llamada: quiere dos escritorios y cuatro sillas.",
    "lines": [
        {"product": "DESK-STD", "quantity": 2},
        {"product": "Ergonomic Chair", "quantity": 4},
    ],
    "conversation_id": "conv_8b1f0c2d9e",
}


def post_quotation(server, body, **headers):
    return requests.post(
        f"{server.url}/api/quotation/async",
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}", **headers},
        timeout=20,
    )


def wait_until_final(server, status_url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(
            status_url,
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=20,
        )
        assert response.status_code == 200, response.text
        status = response.json()
        if status["status"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"still {status['status']} after {timeout} s: {status}")
