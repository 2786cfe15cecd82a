import base64
import json
import time

from odoo.exceptions import AccessError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from ..services.quotation_service import QuotationService
from . import elevenlabs_payloads as payloads
from .common import quotation_payload

WEBHOOK = "/api/elevenlabs/post-call"
SECRET_PARAM = "odoo_mcp_quotation.elevenlabs_webhook_secret"
VOICE_USER_PARAM = "odoo_mcp_quotation.elevenlabs_user_id"


@tagged("post_install", "-at_install")
class TestElevenlabsPostCall(HttpCase):
    """Signed deliveries over HTTP, landed by the queue as the cron does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, lang="en_US"))
        cls.env["ir.config_parameter"].set_param(SECRET_PARAM, payloads.SECRET)
        cls.agent = new_test_user(
            cls.env, login="omq_el_agent", groups="sales_team.group_sale_salesman"
        )
        # the user whose key the ElevenLabs tools send
        cls.env["ir.config_parameter"].set_param(VOICE_USER_PARAM, cls.agent.id)
        cls.env["product.product"].create(
            [
                {
                    "name": "Standing Desk",
                    "default_code": "DESK-STD",
                    "list_price": 520,
                },
                {"name": "Ergonomic Chair", "list_price": 189},
            ]
        )
        cls.Call = cls.env["elevenlabs.call"]
        cls.Delivery = cls.env["elevenlabs.webhook.delivery"]

    # ------------------------------------------------------------------ helpers
    def post(self, body=None, *, raw=None, headers=None):
        if raw is None:
            raw, signed_headers = payloads.signed(body)
            headers = {**signed_headers, **(headers or {})}
        return self.opener.post(
            self.base_url() + WEBHOOK, data=raw, headers=headers or {}, timeout=30
        )

    def land(self):
        return self.Delivery._process_due()

    def deliver(self, body):
        """POST a signed delivery, land it as the cron does; the call it is about."""
        response = self.post(body)
        self.assertEqual(response.status_code, 200, response.text)
        self.land()
        conversation = body["data"]["conversation_id"]
        return self.Call.search([("conversation_id", "=", conversation)])

    def submit(self, conversation_id, idempotency_key=None, user=None):
        """The quotation the voice agent (or ``user``) asked for during the
        call, queued."""
        service = QuotationService(self.env(user=user or self.agent))
        task = service.submit(
            quotation_payload(
                customer_name="Lucía Fernández",
                email="lucia.fernandez@example.com",
                lines=[
                    {"product": "DESK-STD", "quantity": 2},
                    {"product": "Ergonomic Chair", "quantity": 4},
                ],
                conversation_id=conversation_id,
            ),
            "rest",
            idempotency_key,
        )
        return task.with_env(self.env)

    def quotation_task(self, conversation_id, user=None):
        """The quotation task of the call, processed."""
        task = self.submit(conversation_id, user=user)
        self.env["quotation.task"]._process_due()
        self.assertTrue(task.lead_id)
        return task

    def counts(self):
        return (
            self.Delivery.search_count([]),
            self.Call.search_count([]),
            self.env["crm.lead"].search_count([]),
            self.env["mail.message"].search_count([]),
            self.env["quotation.audit.entry"].search_count([]),
        )

    def assert_refused(self, response, status, code):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.json()["error"]["code"], code)

    # ------------------------------------------------------------------ landing
    def test_transcript_summary_and_audio_land_on_the_task_opportunity(self):
        task = self.quotation_task("conv_01land")
        lead = task.lead_id

        started = time.monotonic()
        response = self.post(payloads.transcription("conv_01land"))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"status": "queued"})
        self.assertLess(time.monotonic() - started, 5)
        self.assertFalse(self.Call.search([]), "the answer comes before the work")

        self.land()
        call = self.Call.search([("conversation_id", "=", "conv_01land")])
        self.assertEqual(call.lead_id, lead)
        self.assertEqual(call.task_ids, task)
        self.assertEqual(call.state, "landed")
        self.assertEqual(call.outcome, "success")
        self.assertEqual(call.duration, 47)
        self.assertEqual(call.caller_number, payloads.CALLER)
        self.assertEqual(call.caller_email, "lucia.fernandez@example.com")
        self.assertEqual(call.name, f"Call with {lead.partner_id.name}")
        self.assertEqual(lead.elevenlabs_call_count, 1)
        action = lead.action_view_elevenlabs_calls()
        self.assertEqual((action["res_model"], action["res_id"]), (call._name, call.id))

        # the conversation, readable: who said what, and when, in order
        html = str(call.transcript_html)
        said = [
            "0:04</span> <b>Customer</b>: Hola, necesito dos escritorios",
            "0:11</span> <b>Agent</b>: Claro.",
            "0:31</span> <b>Customer</b>: ¿Llegarían los escritorios antes de marzo?",
            "0:43</span> <b>Customer</b>: Perfecto, muchas gracias. Adiós.",
        ]
        positions = [html.find(line) for line in said]
        self.assertNotIn(-1, positions, html)
        self.assertEqual(positions, sorted(positions))
        analysis = str(call.analysis_html)
        for text in ("quotation_requested", "Successful", "delivery_deadline"):
            self.assertIn(text, analysis)

        note = lead.message_ids.filtered(lambda m: payloads.SUMMARY in m.body)
        self.assertEqual(len(note), 1)
        self.assertTrue(note.subtype_id.internal, "a note, not an e-mail")
        self.assertIn("antes de marzo", note.body)
        self.assertIn("0:47", note.body)
        task_note = task.message_ids.filtered(lambda m: payloads.SUMMARY in m.body)
        self.assertEqual(len(task_note), 1)

        recording = payloads.silent_mp3()
        response = self.post(payloads.audio("conv_01land", recording))
        self.assertEqual(response.json(), {"status": "queued"})
        self.land()
        attachment = call.audio_attachment_id
        self.assertEqual(attachment.raw, recording)
        self.assertEqual(attachment.mimetype, "audio/mpeg")
        self.assertTrue(attachment.voice_ids, "the chatter plays it")
        self.assertIn(attachment, lead.message_ids.attachment_ids)
        delivery = self.Delivery.search([("event_type", "=", "post_call_audio")])
        self.assertNotIn(
            base64.b64encode(recording).decode()[:64],
            delivery.payload,
            "the recording is kept once, as the attachment",
        )

    def test_audio_before_transcript_still_reaches_the_opportunity(self):
        task = self.quotation_task("conv_02audio")
        call = self.deliver(payloads.audio("conv_02audio"))
        self.assertEqual(call.state, "waiting")
        self.deliver(payloads.transcription("conv_02audio"))
        self.assertEqual(call.lead_id, task.lead_id)
        self.assertIn(call.audio_attachment_id, task.lead_id.message_ids.attachment_ids)

    def test_call_waits_for_its_quotation_task(self):
        task = self.submit("conv_03wait")
        self.deliver(payloads.transcription("conv_03wait"))
        delivery = self.Delivery.search([("conversation_id", "=", "conv_03wait")])
        self.assertEqual(delivery.state, "pending")
        self.assertIn("not processed yet", delivery.error)
        self.assertTrue(delivery.next_attempt_at)
        self.assertFalse(self.Call.search([("lead_id", "!=", False)]))

        self.env["quotation.task"]._process_due()
        delivery.next_attempt_at = False
        self.land()
        self.assertEqual(delivery.state, "done")
        self.assertEqual(delivery.call_id.lead_id, task.lead_id)

    def test_last_attempt_before_its_task_makes_no_second_opportunity(self):
        self.env["ir.config_parameter"].set_param("odoo_mcp_quotation.max_attempts", 1)
        task = self.submit("conv_03last")
        leads = self.env["crm.lead"].search_count([])
        call = self.deliver(payloads.transcription("conv_03last"))
        self.assertEqual((call.state, call.task_ids), ("triage", task))
        self.assertEqual(self.env["crm.lead"].search_count([]), leads)

        self.env["quotation.task"]._process_due()
        seller = new_test_user(
            self.env, login="omq_el_last", groups="sales_team.group_sale_salesman"
        )
        call.with_user(seller).action_create_opportunity()
        self.assertEqual(call.lead_id, task.lead_id)
        self.assertEqual(self.env["crm.lead"].search_count([]), leads + 1)

    def test_signature_of_29_minutes_ago_is_accepted(self):
        raw, headers = payloads.signed(
            payloads.transcription("conv_03window"),
            timestamp=int(time.time()) - 29 * 60,
        )
        response = self.post(raw=raw, headers=headers)
        self.assertEqual(response.json(), {"status": "queued"})

    def test_tasks_keyed_otherwise_are_found_by_their_conversation_id(self):
        first = self.quotation_task("conv_03keys")
        second = self.submit("conv_03keys", idempotency_key="retry-7f3a")
        self.env["quotation.task"]._process_due()
        call = self.deliver(payloads.transcription("conv_03keys"))
        self.assertEqual(call.task_ids, first | second)
        self.assertEqual(call.lead_id, first.lead_id)

    def assert_no_transcript(self, lead):
        self.assertNotIn(payloads.SUMMARY, lead.description or "")
        self.assertNotIn(payloads.SUMMARY, "".join(lead.message_ids.mapped("body")))

    def test_a_forged_conversation_id_gets_no_transcript(self):
        """Another user with a key claims the call's conversation id: only the
        voice agent user's task is joined; the other opportunity learns
        nothing of the call."""
        intruder = new_test_user(
            self.env, login="omq_el_intruder", groups="sales_team.group_sale_salesman"
        )
        forged = self.quotation_task("conv_06forged", user=intruder)
        task = self.quotation_task("conv_06forged")
        call = self.deliver(payloads.transcription("conv_06forged"))
        self.assertEqual(call.task_ids, task)
        self.assertEqual(call.lead_id, task.lead_id)
        self.assertIn(payloads.SUMMARY, call.lead_id.message_ids[:1].body)
        self.assertNotEqual(forged.lead_id, task.lead_id)
        self.assert_no_transcript(forged.lead_id)

        alone = self.quotation_task("conv_06alone", user=intruder)
        call = self.deliver(
            payloads.transcription("conv_06alone", caller=None, name=None, email=None)
        )
        self.assertEqual(
            (call.state, call.task_ids), ("triage", self.env["quotation.task"])
        )
        self.assert_no_transcript(alone.lead_id)

    def test_without_a_voice_agent_user_calls_join_no_task(self):
        self.env["ir.config_parameter"].set_param(VOICE_USER_PARAM, False)
        task = self.quotation_task("conv_06unset")
        call = self.deliver(
            payloads.transcription("conv_06unset", caller=None, name=None, email=None)
        )
        self.assertEqual(
            (call.state, call.task_ids), ("triage", self.env["quotation.task"])
        )
        self.assert_no_transcript(task.lead_id)

    def test_caller_known_by_email_only_gets_a_new_opportunity(self):
        call = self.deliver(
            payloads.transcription(
                "conv_04email", caller=None, email="nuevo.cliente@example.com"
            )
        )
        self.assertEqual(call.state, "landed")
        self.assertEqual(call.lead_id.email_from, "nuevo.cliente@example.com")
        self.assertEqual(call.lead_id.contact_name, "Lucía Fernández")

    def test_caller_without_task_gets_a_new_opportunity(self):
        customer = self.env["res.partner"].create(
            {"name": "Jorge Ruiz", "phone": "+34 622 333 444"}
        )
        call = self.deliver(
            payloads.transcription(
                "conv_04phone", caller="+34 622 333 444", name=None, email=None
            )
        )
        self.assertEqual(call.state, "landed")
        self.assertEqual(call.lead_id.partner_id, customer)
        self.assertEqual(call.lead_id.type, "opportunity")
        self.assertIn(payloads.SUMMARY, call.lead_id.description)

    def test_unknown_anonymous_call_waits_for_triage(self):
        leads = self.env["crm.lead"].search_count([])
        call = self.deliver(
            payloads.transcription(
                "conv_05anon", caller=None, name=None, email=None, outcome="failure"
            )
        )
        self.assertEqual((call.state, call.outcome), ("triage", "failure"))
        self.assertEqual(self.env["crm.lead"].search_count([]), leads)
        triage = self.Call.search(
            [("state", "=", "triage"), ("outcome", "=", "failure")]
        )
        self.assertEqual(triage, call, "sales staff find it by outcome")

        seller = new_test_user(
            self.env, login="omq_el_seller", groups="sales_team.group_sale_salesman"
        )
        call.with_user(seller).action_create_opportunity()
        self.assertEqual(call.state, "landed")
        self.assertIn(payloads.SUMMARY, call.lead_id.message_ids[:1].body)

    def test_landed_deliveries_are_forgotten_after_the_retention_period(self):
        """The raw body (transcript, caller's number) is kept only as long as
        the setting says; the call on its opportunity stays, and a delivery
        that failed stays for the staff to see."""
        call = self.deliver(
            payloads.transcription("conv_11old", caller="+34 622 333 555")
        )
        landed = self.Delivery.search([("conversation_id", "=", "conv_11old")])
        failed = landed.copy(
            {
                "conversation_id": "conv_11failed",
                "signature_digest": "another",
                "state": "failed",
            }
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE elevenlabs_webhook_delivery "
            "SET write_date = now() - interval '31 days' WHERE id IN %s",
            [(landed.id, failed.id)],
        )
        self.env.invalidate_all()
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.elevenlabs_delivery_retention_days", "0"
        )
        self.Delivery._vacuum_landed()
        self.assertTrue(landed.exists(), "0 keeps them forever")
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.elevenlabs_delivery_retention_days", "30"
        )
        self.Delivery._vacuum_landed()
        self.assertFalse(landed.exists())
        self.assertTrue(failed.exists())
        self.assertTrue(call.exists() and call.lead_id)

    # ------------------------------------------------------------------ refusals
    def test_replayed_and_duplicated_deliveries_change_nothing(self):
        self.quotation_task("conv_06dup")
        raw, headers = payloads.signed(payloads.transcription("conv_06dup"))
        self.assertEqual(self.post(raw=raw, headers=headers).status_code, 200)
        self.land()
        before = self.counts()

        self.assert_refused(self.post(raw=raw, headers=headers), 401, "replayed")
        # ElevenLabs' retry: the same event, signed again a second later
        again, headers = payloads.signed(
            payloads.transcription("conv_06dup"), timestamp=int(time.time()) + 1
        )
        response = self.post(raw=again, headers=headers)
        self.assertEqual(response.json(), {"status": "duplicate"})
        self.land()
        self.assertEqual(self.counts(), before)

    def test_bad_deliveries_are_refused_and_write_nothing(self):
        body = payloads.transcription("conv_07bad")
        raw, headers = payloads.signed(body)
        stale_raw, stale = payloads.signed(body, timestamp=int(time.time()) - 31 * 60)
        _raw, wrong = payloads.signed(body, secret="wsec_not_the_secret")
        cases = [
            ("unsigned", raw, {"Content-Type": "application/json"}, 401),
            ("wrong secret", raw, wrong, 401),
            ("stale", stale_raw, stale, 401),
            ("malformed", raw, {**headers, "ElevenLabs-Signature": "v0=abc"}, 401),
            ("body changed", raw.replace(b"Luc", b"Lux"), headers, 401),
        ]
        audio = payloads.audio("conv_07bad")
        invalid_bodies = [
            ("malformed json", b"{not json", 400),
            ("no data", {"type": "post_call_transcription"}, 422),
            (
                "unsafe conversation id",
                dict(body, data=dict(body["data"], conversation_id="../etc")),
                422,
            ),
            (
                "audio not base64",
                dict(audio, data=dict(audio["data"], full_audio="%%")),
                422,
            ),
        ]
        for name, invalid, status in invalid_bodies:
            data = (
                invalid if isinstance(invalid, bytes) else json.dumps(invalid).encode()
            )
            signature = payloads.sign(data, payloads.SECRET)
            cases.append(
                (name, data, {**headers, "ElevenLabs-Signature": signature}, status)
            )
        before = self.counts()
        for name, data, case_headers, status in cases:
            with self.subTest(name):
                response = self.post(raw=data, headers=case_headers)
                self.assertEqual(response.status_code, status, response.text)
                self.assertTrue(response.json()["error"]["message"])
                self.assertNotIn(payloads.SECRET, response.text)
        self.land()
        self.assertEqual(self.counts(), before)

    def test_signature_headers_are_parsed_strictly_and_never_fail(self):
        """``t`` is 1 to 12 ASCII digits and each ``v0`` 64 hex digits, without
        spaces, eight ``v0`` at most: anything else is a 401 that writes
        nothing, never a 500 (``²`` passed ``isdigit()``, 5,000 digits broke
        ``int()``, a non-ASCII ``v0`` broke ``compare_digest``). No part is
        skipped: a header longer than allowed is refused even when it holds
        the right signature."""
        self.quotation_task("conv_12sig")
        raw, headers = payloads.signed(payloads.transcription("conv_12sig"))
        timestamp, v0 = (
            part.split("=")[1] for part in headers["ElevenLabs-Signature"].split(",")
        )
        not_ascii = "\u00e9" * 64
        before = self.counts()
        for header in (
            f"t={timestamp}, v0={v0}",
            f"t=\u00b2,v0={v0}",
            f"t={'9' * 5000},v0={v0}",
            f"t={timestamp},v0={not_ascii}",
            f"t={timestamp},v0={v0[:63]}",
            f"t={timestamp},t={timestamp},v0={v0}",
            f"t={timestamp}",
            f"t={timestamp},v0={v0},",
            f"t={timestamp},v0={v0},v0=",
            f"t={timestamp},v0={v0},x=1",
            f"t={timestamp},{','.join([f'v0={v0}'] * 9)}",
            f"t={timestamp},v0={v0}{',' * 5000}",
        ):
            with self.subTest(header[:40]):
                response = self.post(
                    raw=raw, headers={**headers, "ElevenLabs-Signature": header}
                )
                self.assert_refused(response, 401, "invalid_signature")
        self.assertEqual(self.counts(), before)
        # while ElevenLabs rotates a secret it lists more than one: any of the
        # eight allowed may match
        rotating = f"t={timestamp},{','.join([f'v0={0:064}'] * 7)},v0={v0}"
        accepted = self.post(
            raw=raw, headers={**headers, "ElevenLabs-Signature": rotating}
        )
        self.assertEqual(accepted.json(), {"status": "queued"})
        # the same signature written otherwise is the same delivery: a replay
        for replayed in (f"t={timestamp},v0={v0.upper()}", f"t={timestamp},v0={v0}"):
            response = self.post(
                raw=raw, headers={**headers, "ElevenLabs-Signature": replayed}
            )
            self.assert_refused(response, 401, "replayed")

    def test_oversized_body_is_refused_unread(self):
        before = self.counts()
        raw, headers = payloads.signed(
            payloads.audio("conv_08big", b"\0" * (26 * 1024 * 1024))
        )
        self.assert_refused(
            self.post(raw=raw, headers=headers), 413, "payload_too_large"
        )
        self.assertEqual(self.counts(), before)

    def test_no_secret_configured_refuses_everything(self):
        self.env["ir.config_parameter"].set_param(SECRET_PARAM, False)
        before = self.counts()
        response = self.post(payloads.transcription("conv_09nosecret"))
        self.assert_refused(response, 401, "invalid_signature")
        self.assertIn("Settings", response.json()["error"]["message"])
        self.assertEqual(self.counts(), before)

    def test_other_event_types_are_acknowledged_and_ignored(self):
        before = self.counts()
        body = {
            "type": "call_initiation_failure",
            "event_timestamp": int(time.time()),
            "data": {"agent_id": payloads.AGENT_ID, "conversation_id": "conv_10x"},
        }
        self.assertEqual(self.post(body).json(), {"status": "ignored"})
        self.assertEqual(self.counts(), before)

    # ------------------------------------------------------------------ audit, access
    def test_audit_log_records_the_delivery_without_secrets(self):
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.audit_enabled", "True"
        )
        self.quotation_task("conv_11audit")
        raw, headers = payloads.signed(payloads.transcription("conv_11audit"))
        self.post(raw=raw, headers=headers)
        self.land()
        entries = self.env["quotation.audit.entry"].search(
            [("tracking_id", "=", "conv_11audit")], order="id"
        )
        self.assertEqual(entries.mapped("event"), ["received", "done"])
        self.assertTrue(
            entries[1].key.endswith("/conv_11audit/post_call_transcription-done.json")
        )
        done = json.loads(entries[1].document)
        self.assertEqual(done["source"], "elevenlabs_post_call_webhook")
        self.assertEqual(done["outcome"]["call_state"], "landed")
        self.assertEqual(
            done["data"]["analysis"]["transcript_summary"], payloads.SUMMARY
        )
        for entry in entries:
            self.assertNotIn(payloads.SECRET, entry.document)
            self.assertNotIn(headers["ElevenLabs-Signature"][-64:], entry.document)

    def test_salespeople_see_their_calls_and_change_nothing(self):
        call = self.deliver(
            payloads.transcription("conv_12own", caller=None, name=None, email=None)
        )
        seller = new_test_user(
            self.env, login="omq_el_own", groups="sales_team.group_sale_salesman"
        )
        other = new_test_user(
            self.env, login="omq_el_other", groups="sales_team.group_sale_salesman"
        )
        self.assertEqual(
            call.with_user(seller).read(["summary"])[0]["summary"], payloads.SUMMARY
        )
        with self.assertRaises(AccessError):
            call.with_user(seller).write({"summary": "edited"})
        call.with_user(seller).action_create_opportunity()
        call.lead_id.user_id = seller
        self.assertEqual(call.user_id, seller)
        self.assertFalse(self.Call.with_user(other).search([("id", "=", call.id)]))
        with self.assertRaises(AccessError):
            self.Delivery.with_user(seller).search([])

    def test_secret_is_write_only_in_settings(self):
        settings = self.env["res.config.settings"].create(
            {"ai_quotation_elevenlabs_secret": " wsec_new_secret "}
        )
        settings.execute()
        params = self.env["ir.config_parameter"]
        self.assertEqual(params.get_param(SECRET_PARAM), "wsec_new_secret")
        shown = Form(self.env["res.config.settings"])  # as the Settings page
        self.assertFalse(shown.ai_quotation_elevenlabs_secret)
        self.assertTrue(shown.ai_quotation_elevenlabs_secret_set)
        self.assertTrue(shown.ai_quotation_elevenlabs_webhook_url.endswith(WEBHOOK))
        self.env["res.config.settings"].create({}).execute()
        self.assertEqual(params.get_param(SECRET_PARAM), "wsec_new_secret")
