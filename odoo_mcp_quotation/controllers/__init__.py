from . import auth, mcp
