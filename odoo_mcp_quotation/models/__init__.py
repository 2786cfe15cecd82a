from . import quotation_task, quotation_task_line
