from . import test_quotation_task, test_quotation_task_concurrency, test_request_schema
from . import test_rest_api
