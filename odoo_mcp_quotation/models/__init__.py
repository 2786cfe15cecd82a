from . import mcp_session, mcp_session_message, quotation_task, quotation_task_line
