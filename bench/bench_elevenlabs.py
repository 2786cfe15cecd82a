"""POST /api/elevenlabs/post-call against Odoo's own /web/health, side by side.

Run with ``make bench`` (or ``python3 scripts/harness.py bench bench_elevenlabs``).
ElevenLabs disables a webhook that keeps failing, so the answer must come at
once: one real ``odoo-bin --workers 2``, crons off while the HTTP figures are
taken (signature check, one row, the answer); then the crons land the backlog
of calls those deliveries queued (a new opportunity each), timed as it drains.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import odoo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
# the deliveries come from the addon's own test helpers: put it on odoo.addons
# (in test mode, as the helpers live in its tests package)
odoo.tools.config.parse_config(["-c", os.environ["ODOO_RC"], "--test-enable"])
odoo.modules.module.initialize_sys_path()

from helpers.odoo_rpc import Rpc  # noqa: E402
from helpers.servers import start_odoo_server, stop_odoo_server  # noqa: E402
from loadgen import against_health, drain, run  # noqa: E402

from odoo.addons.odoo_mcp_quotation.tests import (  # noqa: E402
    elevenlabs_payloads as payloads,
)

PLAN = [(1, 200), (10, 600)]  # (concurrent clients, requests) per endpoint
SECRET_PARAM = "odoo_mcp_quotation.elevenlabs_webhook_secret"


def transcription(prefix):
    """Deliveries of distinct calls, each from its own caller number."""

    def body(index):
        return payloads.transcription(
            f"conv_{prefix}_{index}", caller=f"+34 600 {index:06d}"
        )

    return body


def signed_headers(data):
    return {
        "Content-Type": "application/json",
        "ElevenLabs-Signature": payloads.sign(data),
    }


def pending_deliveries(admin):
    return admin(
        "elevenlabs.webhook.delivery", "search_count", [("state", "=", "pending")]
    )


def main():
    tmp = Path(tempfile.mkdtemp(prefix="omq-bench-"))
    print("starting odoo-bin --workers 2 (crons off for the HTTP figures)...")
    server = start_odoo_server(
        tmp, cron_threads=0, params={SECRET_PARAM: payloads.SECRET}
    )
    webhook = f"{server.url}/api/elevenlabs/post-call"
    body_size = len(json.dumps(transcription("size")(0)).encode())
    try:
        against_health(
            server.url,
            f"POST post-call ({body_size // 1024} KiB)",
            webhook,
            PLAN,
            bodies=transcription,
            headers=signed_headers,
        )
        recording = payloads.silent_mp3(60)
        audio = run(
            f"POST post_call_audio (1 min, {len(recording) * 4 // 3 // 1024} KiB)",
            webhook,
            requests=30,
            concurrency=1,
            method="POST",
            body=lambda index: payloads.audio(f"conv_c1_{index}", recording),
            headers=signed_headers,
        )
        print(audio.row(), flush=True)
        backlog = pending_deliveries(Rpc(server, "admin", "admin"))
    finally:
        stop_odoo_server(server, drop=False)

    print(f"\n{backlog} deliveries queued; starting the crons to land them...")
    server = start_odoo_server(tmp, database=server.database)
    try:
        admin = Rpc(server, "admin", "admin")
        done, seconds = drain(
            backlog, lambda: pending_deliveries(admin), verb="landed", timeout=600
        )
        print(
            f"\n  landed {done} deliveries in {seconds:.0f} s: "
            f"{done / seconds:.1f} calls/s "
            "(call, opportunity, note with the conversation, recording)"
        )
    finally:
        stop_odoo_server(server)


if __name__ == "__main__":
    main()
