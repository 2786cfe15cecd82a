from . import (
    test_mcp_http,
    test_quotation_service_queries,
    test_quotation_task,
    test_quotation_task_concurrency,
    test_request_schema,
)
