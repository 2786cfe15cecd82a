from . import controllers, models, services
from .hooks import post_load
