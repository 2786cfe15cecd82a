from . import quotation_builder, quotation_service, request_schema
