from . import request_schema
from . import quotation_builder
from . import quotation_service
