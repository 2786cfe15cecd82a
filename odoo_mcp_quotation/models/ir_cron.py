from odoo import models

from ..services.cron_wakeup import wake_cron_workers


class IrCron(models.Model):
    _inherit = "ir.cron"

    def _notifydb(self):
        """Wake the cron workers on this process's kept-open connection.

        Odoo opens a new connection to ``postgres`` for each wake-up
        (``cron_wakeup``), and every quotation built pays one that is not
        ours: CRM's lead enrichment (``crm_iap_enrich``, on by default)
        triggers its cron for each new lead. Same notification, same
        listeners.
        """
        wake_cron_workers(self.env.cr.dbname)
