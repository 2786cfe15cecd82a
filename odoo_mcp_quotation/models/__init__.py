from . import quotation_task
from . import quotation_task_line
from . import quotation_rate_limit
from . import res_config_settings
from . import sale_order
from . import crm_lead
from . import res_partner
from . import quotation_audit_entry
