from . import (
    crm_lead,
    quotation_task,
    quotation_task_line,
    res_config_settings,
    res_partner,
    sale_order,
)
