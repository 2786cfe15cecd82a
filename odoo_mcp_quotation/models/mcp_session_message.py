from odoo import fields, models


class McpSessionMessage(models.Model):
    """A message on its way to the process that holds a session's stream: an
    answer for a legacy SSE stream, or a question asked on the stream of a
    tools/call, waiting for (then holding) the client's answer."""

    _name = "mcp.session.message"
    _description = "MCP Message for a Stream"
    _order = "id"

    session_id = fields.Many2one(
        "mcp.session", required=True, ondelete="cascade", index=True
    )
    request_id = fields.Char(
        string="Question ID",
        help="The question this row waits for the answer to; empty for a "
        "message to send on a legacy SSE stream.",
    )
    payload = fields.Json()
