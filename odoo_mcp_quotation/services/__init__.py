from . import quotation_builder
from . import quotation_service
