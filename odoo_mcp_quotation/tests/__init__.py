from . import (
    test_i18n,
    test_quotation_builder_settings,
    test_quotation_task,
    test_quotation_task_concurrency,
    test_quotation_task_tour,
    test_quotation_task_views,
    test_request_schema,
    test_res_config_settings,
    test_security,
)
