from . import (
    quotation_audit_entry,
    quotation_task,
    quotation_task_line,
    res_config_settings,
)
