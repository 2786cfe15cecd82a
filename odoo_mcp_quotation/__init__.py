from . import controllers, models, services
