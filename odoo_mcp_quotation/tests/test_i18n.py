import re
from pathlib import Path

import polib

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import QuotationTaskCase

I18N = Path(__file__).resolve().parent.parent / "i18n"
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")


@tagged("post_install", "-at_install")
class TestSpanishTranslation(QuotationTaskCase):
    def test_every_string_of_the_template_is_translated(self):
        template = {
            entry.msgid for entry in polib.pofile(I18N / "odoo_mcp_quotation.pot")
        }
        spanish = polib.pofile(I18N / "es.po")
        translated = {entry.msgid: entry.msgstr for entry in spanish if entry.msgstr}
        self.assertFalse(template - set(translated), "untranslated strings")
        for msgid, msgstr in translated.items():
            with self.subTest(msgid=msgid):
                self.assertEqual(
                    sorted(PLACEHOLDER.findall(msgid)),
                    sorted(PLACEHOLDER.findall(msgstr)),
                )

    def test_spanish_speaking_staff_read_spanish(self):
        self.assertTrue(self.env["res.lang"]._lang_get("es_ES").active)
        spanish = self.env(context={"lang": "es_ES"})
        fields_info = spanish["quotation.task"].fields_get(["tracking_id"], ["string"])
        self.assertEqual(fields_info["tracking_id"]["string"], "ID de seguimiento")
        task = self.submit().with_env(spanish)
        with self.assertRaisesRegex(UserError, "aún no tiene presupuesto"):
            task.action_open_quotation()
        failed = self.submit(lines=[{"product": "Flux Capacitor"}]).with_env(spanish)
        self.env["quotation.task"].with_env(spanish)._process_due()
        self.assertIn("ningún producto coincide", failed.error)

    def test_english_staff_read_english_notes_about_a_spanish_customer(self):
        """The engine writes the chatter for the staff, not in anyone else's language.

        The cron runs in no language, as a user set up in Spanish here; the
        customer speaks Spanish; the salesperson and the requester read English.
        """
        self.env.ref("base.user_root").lang = "es_ES"
        self.api_user.lang = "en_US"
        seller = new_test_user(
            self.env,
            login="omq_english_seller",
            groups="sales_team.group_sale_salesman",
            lang="en_US",
        )
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.user_id", seller.id
        )
        built = self.submit(lang="es")
        refused = self.submit(
            email="otra@example.com", lang="es", lines=[{"product": "Flux Capacitor"}]
        )
        cron = api.Environment(self.env.cr, SUPERUSER_ID, {})  # as ir.cron runs a job
        cron["quotation.task"]._process_due()
        self.env.cr.flush()  # the tracking of the last change, as at commit
        self.assertEqual(built.partner_id.lang, "es_ES")
        self.assertEqual(built.user_id, seller)
        self.assertEqual(
            built.message_ids[0].body,
            f"<p>Quotation {built.sale_order_id.name} created.</p>",
        )
        self.assertEqual(_state_changes(built), ["Processing", "Done"])
        self.assertIn(
            "The quotation could not be created",
            " ".join(refused.message_ids.mapped("body")),
        )
        self.assertEqual(_state_changes(refused), ["Processing", "Failed"])


def _state_changes(task):
    """The states the task went through, as its chatter tracked them."""
    tracked = task.message_ids.tracking_value_ids.sorted("id")
    return tracked.filtered(lambda value: value.field_id.name == "state").mapped(
        "new_value_char"
    )
