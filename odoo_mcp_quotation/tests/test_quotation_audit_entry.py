import json
import logging
import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import QuotationTaskCase
from .s3_server import S3TestServer

PARAM = "odoo_mcp_quotation.audit_"
KEY_PATTERN = re.compile(
    r"^audit-test/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}/[a-z]+(-\d+)?\.json$"
)


def logged(logs):
    """What ``assertLogs`` caught, but for Odoo's SQL debug log: that one prints
    every query's parameters by design, so a secret the settings store shows
    there to whoever runs Odoo with ``--log-sql`` (docs/audit-log.md)."""
    return "\n".join(
        line
        for line, record in zip(logs.output, logs.records, strict=True)
        if record.name != "odoo.sql_db"
    )


class AuditLogCase(QuotationTaskCase):
    """Tasks with the audit log enabled and pointed at a live moto server."""

    enforce_auth = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = S3TestServer(enforce_auth=cls.enforce_auth).start()
        cls.addClassCleanup(cls.s3.stop)
        cls.Entry = cls.env["quotation.audit.entry"]
        cls.configure(
            enabled="True",
            prefix="audit-test",
            s3_bucket=cls.s3.bucket,
            s3_region="us-east-1",
            s3_endpoint_url=cls.s3.url,
            s3_access_key_id=cls.s3.access_key["aws_access_key_id"],
            s3_secret_access_key=cls.s3.access_key["aws_secret_access_key"],
        )

    @classmethod
    def configure(cls, **settings):
        params = cls.env["ir.config_parameter"].sudo()
        for name, value in settings.items():
            params.set_param(PARAM + name, value)

    def entries(self, task):
        return self.Entry.search([("tracking_id", "=", task.tracking_id)], order="id")

    def send(self):
        """One sending round: ``(sent, failed)`` of the entries it took."""
        entries = self.Entry._process_due()
        sent = entries.filtered(lambda entry: entry.state == "sent")
        return sent, entries - sent

    def failed_to_send(self, **settings):
        """With ``settings``, a new task's entries fail to send: those entries."""
        self.configure(**settings)
        task = self.submit()
        _sent, failed = self.send()
        self.assertEqual(failed, self.entries(task))
        return failed

    def make_due(self, entries):
        entries.write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})


@tagged("post_install", "-at_install")
class TestAuditLog(AuditLogCase):
    def test_task_changes_are_queued_not_uploaded(self):
        task = self.submit(conversation_id="conv-42")
        (created,) = self.entries(task)
        self.assertEqual(created.event, "created")
        self.assertEqual(created.state, "pending")
        self.assertRegex(created.key, KEY_PATTERN)
        self.assertEqual(
            created.key,
            f"audit-test/{task.create_date:%Y/%m/%d}/{task.tracking_id}/created.json",
        )
        self.assertEqual(
            self.s3.count(f"audit-test/{task.create_date:%Y/%m/%d}/{task.tracking_id}"),
            0,
            "nothing is uploaded inside the request that creates the task",
        )
        document = json.loads(created.document)
        self.assertEqual(document["schema_version"], 1)
        self.assertEqual(document["event"], "created")
        self.assertEqual(document["tracking_id"], task.tracking_id)
        self.assertEqual(document["channel"], "rest")
        self.assertEqual(document["state"], "pending")
        self.assertEqual(document["requested_by"]["login"], "omq_agent")
        self.assertEqual(document["actor"]["login"], "omq_agent")
        self.assertEqual(document["idempotency_key"], "conv-42")
        self.assertEqual(document["request"]["customer_name"], "Ana García")
        self.assertEqual(
            document["request"]["lines"],
            [
                {"product": "OMQ-DESK", "quantity": 2.0},
                {"product": "Ergonomic Chair", "quantity": 4.0},
            ],
        )
        self.assertEqual(
            document["timestamps"]["created_at"][:10], f"{task.create_date:%Y-%m-%d}"
        )
        self.assertIsNone(document["timestamps"]["finished_at"])

    def test_request_and_outcome_arrive_in_s3(self):
        task = self.submit(channel="mcp")
        self.process()
        sent, failed = self.send()
        self.assertFalse(failed)
        self.assertEqual(sent, self.entries(task))
        self.assertEqual(sent.mapped("state"), ["sent", "sent"])
        self.assertTrue(all(sent.mapped("sent_at")))
        folder = f"audit-test/{task.create_date:%Y/%m/%d}/{task.tracking_id}/"
        objects = self.s3.objects(folder)
        self.assertEqual(
            sorted(objects), [folder + "created.json", folder + "done.json"]
        )
        created = json.loads(objects[folder + "created.json"])
        self.assertEqual(created["request"]["email"], "ana.garcia@example.com")
        self.assertEqual(created["channel"], "mcp")
        done = json.loads(objects[folder + "done.json"])
        order = task.sale_order_id
        self.assertEqual(done["state"], "done")
        self.assertEqual(done["request"], created["request"])
        self.assertEqual(done["outcome"]["quotation"]["reference"], order.name)
        self.assertAlmostEqual(
            done["outcome"]["quotation"]["amount_total"], order.amount_total
        )
        self.assertEqual(
            done["outcome"]["quotation"]["currency"], order.currency_id.name
        )
        self.assertEqual(
            [
                (line["product"]["reference"], line["quantity"])
                for line in done["outcome"]["quotation"]["lines"]
            ],
            [("OMQ-DESK", 2.0), (None, 4.0)],
        )
        self.assertEqual(done["outcome"]["customer"]["id"], task.partner_id.id)
        self.assertEqual(done["outcome"]["customer"]["company"], "García Muebles")
        self.assertEqual(done["outcome"]["opportunity"]["id"], task.lead_id.id)
        self.assertEqual(done["processing"]["attempts"], 1)
        attempt = done["processing"]["last_attempt_seconds"]
        self.assertEqual(attempt, round(task.duration, 3))
        # building takes milliseconds; the task's life holds its attempt, and
        # ends before now
        total = done["processing"]["total_seconds"]
        lived = (task._clock() - task.create_date).total_seconds()
        self.assertGreater(attempt, 0)
        self.assertLessEqual(attempt, total)
        self.assertLessEqual(total, round(lived, 3))
        self.assertTrue(done["timestamps"]["finished_at"].endswith("Z"))
        self.assertEqual(
            objects[folder + "done.json"],
            self.entries(task)[1].document.encode(),
            "the object is the entry's document byte for byte",
        )

    def test_every_failure_and_retry_keeps_its_own_document(self):
        task = self.submit(lines=[{"product": "Flux Capacitor"}])
        self.process()
        task.action_retry()
        self.process()
        task.action_retry()
        task.action_cancel()
        entries = self.entries(task)
        self.assertEqual(
            [key.rsplit("/", 1)[1] for key in entries.mapped("key")],
            [
                "created.json",
                "failed.json",
                "retried.json",
                "failed-2.json",
                "retried-2.json",
                "cancelled.json",
            ],
        )
        failed = json.loads(entries[1].document)
        self.assertIn("Flux Capacitor", failed["outcome"]["error"])
        self.assertEqual(failed["processing"]["attempts"], 1)
        self.assertEqual(
            json.loads(entries[2].document)["actor"]["login"], "__system__"
        )
        self.send()
        self.assertEqual(len(self.s3.objects(entries[0].key.rsplit("/", 1)[0])), 6)

    def test_cancelling_user_is_the_actor(self):
        manager = self.env.ref("base.user_admin")
        task = self.submit()
        task.with_user(manager).action_cancel()
        cancelled = self.entries(task)[-1]
        self.assertEqual(cancelled.event, "cancelled")
        document = json.loads(cancelled.document)
        self.assertEqual(document["actor"]["login"], manager.login)
        self.assertEqual(document["requested_by"]["login"], "omq_agent")
        self.assertEqual(document["state"], "cancelled")

    def test_nothing_is_logged_while_disabled(self):
        self.configure(enabled="")
        task = self.submit()
        self.process()
        self.assertFalse(self.entries(task))

    def test_outage_keeps_entries_pending_and_recovery_sends_them(self):
        tasks = self.submit() | self.submit(email="luis@example.com")
        entries = self.entries(tasks[0]) | self.entries(tasks[1])
        self.s3.stop()
        try:
            with self.assertLogs("odoo.addons.odoo_mcp_quotation", "WARNING") as logs:
                sent, failed = self.send()
            self.assertFalse(sent)
            self.assertEqual(failed, entries)
            self.assertEqual(entries.mapped("state"), ["pending", "pending"])
            self.assertEqual(entries.mapped("attempts"), [1, 1])
            self.assertIn("cannot connect", entries[0].error)
            self.assertIn(self.s3.url, entries[0].error)
            self.assertIn("cannot connect", logs.output[0])
            wait = (entries[0].next_attempt_at - fields.Datetime.now()).total_seconds()
            self.assertAlmostEqual(wait, 30, delta=3)
            self.assertEqual(self.send(), (self.Entry, self.Entry), "backing off")
            self.make_due(entries)
            self.send()
            self.assertEqual(entries.mapped("attempts"), [2, 2])
            wait = (entries[0].next_attempt_at - fields.Datetime.now()).total_seconds()
            self.assertAlmostEqual(wait, 60, delta=3, msg="exponential back-off")
            self.Entry._cron_send_pending()  # the cron never raises
        finally:
            self.s3.start()
        self.make_due(entries)
        sent, failed = self.send()
        self.assertEqual(sent, entries)
        self.assertEqual(entries.mapped("state"), ["sent", "sent"])
        objects = self.s3.objects("audit-test/")
        for entry in entries:
            self.assertEqual(objects[entry.key], entry.document.encode())

    def test_sending_again_rewrites_the_same_object(self):
        task = self.submit()
        (entry,) = self.entries(task)
        self.send()
        first = self.s3.client().head_object(Bucket=self.s3.bucket, Key=entry.key)
        # a crash after the upload and before the commit: the entry is sent again
        entry.write({"state": "pending", "sent_at": False})
        self.send()
        again = self.s3.client().head_object(Bucket=self.s3.bucket, Key=entry.key)
        self.assertEqual(first["ETag"], again["ETag"])
        self.assertEqual(self.s3.count(entry.key.rsplit("/", 1)[0]), 1)

    def test_missing_bucket_is_explained_and_kept(self):
        failed = self.failed_to_send(s3_bucket="no-such-bucket")
        self.assertIn("no-such-bucket", failed.error)
        self.assertIn("bucket does not exist", failed.error)

    def test_no_destination_is_explained_and_kept(self):
        failed = self.failed_to_send(s3_bucket="", local_directory="")
        self.assertIn("No destination configured", failed.error)

    def test_local_directory_gets_the_same_documents(self):
        with tempfile.TemporaryDirectory() as directory:
            self.configure(local_directory=directory)
            self.submit()
            self.process()
            sent, failed = self.send()
            self.assertFalse(failed)
            for entry in sent:
                written = (Path(directory) / entry.key).read_bytes()
                self.assertEqual(written, entry.document.encode())
                self.assertEqual(self.s3.objects(entry.key)[entry.key], written)
            # and a local directory alone is enough
            self.configure(s3_bucket="")
            other = self.submit(email="solo@example.com")
            sent, failed = self.send()
            self.assertEqual(sent, self.entries(other))
            self.assertTrue((Path(directory) / sent.key).is_file())
            self.assertEqual(self.s3.count(sent.key), 0)

    def test_unwritable_local_directory_is_explained(self):
        with tempfile.NamedTemporaryFile() as not_a_directory:
            failed = self.failed_to_send(local_directory=not_a_directory.name)
            self.assertIn("cannot write", failed.error)

    def test_send_now_skips_the_back_off(self):
        self.configure(s3_bucket="no-such-bucket")
        task = self.submit()
        self.send()
        self.configure(s3_bucket=self.s3.bucket)
        self.assertFalse(self.send()[0], "still backing off")
        self.Entry.action_send_now()
        sent, _failed = self.send()
        self.assertEqual(sent, self.entries(task))

    def test_unsent_entries_are_deleted_only_on_purpose(self):
        kept, discarded = self.submit(), self.submit(email="luis@example.com")
        with self.assertRaisesRegex(UserError, "disable the audit log first"):
            self.entries(kept).unlink()
        self.send()
        self.entries(kept).unlink()
        self.assertFalse(self.entries(kept), "sent entries may go")
        self.entries(discarded).state = "pending"
        self.configure(enabled="")
        self.entries(discarded).unlink()
        self.assertFalse(self.entries(discarded))

    def test_entries_wait_while_the_log_is_disabled(self):
        task = self.submit()
        self.configure(enabled="")
        self.assertEqual(self.send(), (self.Entry, self.Entry))
        self.assertEqual(self.entries(task).attempts, 0)
        self.configure(enabled="True")
        sent, _failed = self.send()
        self.assertEqual(sent, self.entries(task))

    def test_sent_entries_are_forgotten_after_the_retention_period(self):
        old, recent, pending = (
            self.submit(email=f"{n}@example.com") for n in ("old", "recent", "pending")
        )
        self.send()
        self.entries(old).sent_at = fields.Datetime.now() - timedelta(days=31)
        waiting = self.entries(pending)
        waiting.write({"state": "pending", "sent_at": False})
        self.Entry._vacuum_sent()
        self.assertFalse(self.entries(old))
        self.assertTrue(self.entries(recent))
        self.assertTrue(waiting.exists())

    def test_task_deleted_later_keeps_its_documents(self):
        task = self.submit()
        tracking_id = task.tracking_id
        task.unlink()
        entry = self.Entry.search([("tracking_id", "=", tracking_id)])
        self.assertEqual(entry.state, "pending")
        self.assertFalse(entry.task_id)
        self.send()
        self.assertEqual(entry.state, "sent")

    def test_connection_test_button(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.ai_quotation_audit_s3_bucket, self.s3.bucket)
        action = settings.action_ai_quotation_audit_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("audit-test/_connection_test.json", action["params"]["message"])
        self.assertIn(
            "audit-test/_connection_test.json", self.s3.objects("audit-test/_")
        )
        settings.ai_quotation_audit_s3_bucket = "no-such-bucket"
        with self.assertRaisesRegex(UserError, "bucket does not exist"):
            settings.action_ai_quotation_audit_test_connection()

    def test_settings_are_saved_and_checked(self):
        settings = self.env["res.config.settings"].create(
            {
                "ai_quotation_audit_prefix": "prod/quotations",
                "ai_quotation_audit_s3_bucket": "  other-bucket ",
            }
        )
        settings.execute()
        params = self.env["ir.config_parameter"]
        self.assertEqual(params.get_param(PARAM + "prefix"), "prod/quotations")
        self.assertEqual(params.get_param(PARAM + "s3_bucket"), "other-bucket")
        with self.assertRaisesRegex(ValidationError, "prefix"):
            self.env["res.config.settings"].create(
                {"ai_quotation_audit_prefix": "../etc"}
            )
        with self.assertRaisesRegex(ValidationError, "http"):
            self.env["res.config.settings"].create(
                {"ai_quotation_audit_s3_endpoint_url": "minio:9000"}
            )

    def test_settings_show_what_is_waiting(self):
        self.configure(s3_bucket="no-such-bucket")
        self.submit()
        self.send()
        settings = self.env["res.config.settings"].create({})
        self.assertGreaterEqual(settings.ai_quotation_audit_pending_count, 1)
        self.assertIn("bucket does not exist", settings.ai_quotation_audit_last_error)


@tagged("post_install", "-at_install")
class TestAuditLogCredentials(AuditLogCase):
    """moto checks signatures: only the IAM user's key may write."""

    enforce_auth = True

    def test_wrong_secret_is_refused_and_never_leaks(self):
        wrong_secret = "wr0ng/Secret+Key/" + "x" * 23
        self.configure(s3_secret_access_key=wrong_secret)
        task = self.submit()
        self.process()
        with self.assertLogs(level=logging.DEBUG) as logs:
            sent, failed = self.send()
            with self.assertRaises(UserError) as refused:
                self.env["res.config.settings"].create(
                    {}
                ).action_ai_quotation_audit_test_connection()
        self.assertFalse(sent)
        self.assertEqual(failed, self.entries(task))
        self.assertIn("SignatureDoesNotMatch", failed[0].error)
        self.assertIn("credentials were refused", str(refused.exception))
        real_secret = self.s3.access_key["aws_secret_access_key"]
        for secret in (wrong_secret, real_secret):
            self.assertNotIn(secret, logged(logs))
            self.assertNotIn(secret, str(refused.exception))
            for entry in failed:
                self.assertNotIn(secret, entry.error)
                self.assertNotIn(secret, entry.document)
            self.assertNotIn(secret, "".join(task.message_ids.mapped("body")))
        self.configure(s3_secret_access_key=real_secret)
        self.make_due(failed)
        with self.assertLogs(level=logging.DEBUG) as logs:
            sent, failed = self.send()
        self.assertEqual(sent, self.entries(task))
        self.assertNotIn(real_secret, logged(logs))

    def test_unknown_access_key_is_refused(self):
        failed = self.failed_to_send(s3_access_key_id="AKIAUNKNOWN000000000")
        self.assertIn("InvalidAccessKeyId", failed.error)
        self.assertIn("Check the access key ID", failed.error)

    def test_credentials_from_the_environment(self):
        self.configure(s3_access_key_id="", s3_secret_access_key="")
        no_credentials = {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
        }
        with patch.dict(os.environ, no_credentials):
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                os.environ.pop(name, None)
            task = self.submit()
            sent, failed = self.send()
            self.assertIn("no AWS credentials found", failed.error)
            self.make_due(failed)
            os.environ["AWS_ACCESS_KEY_ID"] = self.s3.access_key["aws_access_key_id"]
            os.environ["AWS_SECRET_ACCESS_KEY"] = self.s3.access_key[
                "aws_secret_access_key"
            ]
            sent, failed = self.send()
        self.assertEqual(sent, self.entries(task))


@tagged("post_install", "-at_install")
class TestAuditKeysFromHostileInput(AuditLogCase):
    """Keys are built from checked parts; one unsendable document blocks no other."""

    def test_a_forged_tracking_id_never_reaches_a_key_or_a_file_name(self):
        victim = self.submit(email="victim@example.com")
        forged = self.submit(email="forger@example.com")
        # a row forged before tracking ids were checked, as the issue reproduced
        hostile = f"../../../{victim.create_date:%Y/%m/%d}/{victim.tracking_id}"
        self.env.cr.execute(
            "UPDATE quotation_task SET tracking_id = %s WHERE id = %s",
            [hostile, forged.id],
        )
        forged.invalidate_recordset(["tracking_id"])
        with tempfile.TemporaryDirectory() as directory:
            self.configure(local_directory=directory)
            forged.with_user(self.api_user).sudo().action_cancel()
            (cancelled,) = self.Entry.search(
                [("task_id", "=", forged.id), ("event", "=", "cancelled")]
            )
            self.assertEqual(
                cancelled.key,
                f"audit-test/{forged.create_date:%Y/%m/%d}/task-{forged.id}/"
                "cancelled.json",
            )
            sent, failed = self.send()
            self.assertFalse(failed)
            self.assertIn(cancelled, sent)
            victim_file = (
                Path(directory)
                / f"audit-test/{victim.create_date:%Y/%m/%d}"
                / f"{victim.tracking_id}/created.json"
            )
            self.assertEqual(
                json.loads(victim_file.read_text())["tracking_id"], victim.tracking_id
            )
            written = {
                p.relative_to(directory).as_posix()
                for p in Path(directory).rglob("*.json")
            }
            self.assertTrue(all(".." not in key for key in written))

    def test_an_unsendable_document_does_not_hold_back_its_batch(self):
        first = self.submit(email="first@example.com")
        (stuck,) = self.entries(first)
        # an old entry whose key no store takes: a 300-byte file name
        stuck.sudo().write({"key": f"audit-test/{'x' * 300}/created.json"})
        others = self.submit(email="second@example.com") | self.submit(
            email="third@example.com"
        )
        with tempfile.TemporaryDirectory() as directory:
            self.configure(local_directory=directory)
            sent, failed = self.send()
        self.assertEqual(failed, stuck, "the first of the batch, alone")
        self.assertIn("cannot write", stuck.error)
        self.assertEqual(sent, self.entries(others[0]) | self.entries(others[1]))

    def test_the_key_prefix_is_bounded_and_safe(self):
        for prefix in ("../etc", "a/.hidden", "x" * 257, "a b", "a/$HOME"):
            with (
                self.subTest(prefix=prefix),
                self.assertRaisesRegex(ValidationError, "prefix"),
            ):
                self.env["res.config.settings"].create(
                    {"ai_quotation_audit_prefix": prefix}
                )
