from . import (
    test_quotation_audit_entry,
    test_quotation_task,
    test_quotation_task_concurrency,
    test_request_schema,
)
