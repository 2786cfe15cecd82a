from . import auth
from . import rest
from . import mcp
from . import oauth
from . import elevenlabs
from . import elevenlabs_init
