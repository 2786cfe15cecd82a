import re
from pathlib import Path

import polib

from odoo.exceptions import UserError
from odoo.tests import tagged

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
