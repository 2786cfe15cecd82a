from . import auth
from . import rest
