from . import quotation_task
from . import quotation_task_line
from . import quotation_rate_limit
