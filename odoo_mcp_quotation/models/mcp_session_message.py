from odoo import fields, models


class McpSessionMessage(models.Model):
    """An answer waiting for the process that holds its legacy SSE stream."""

    _name = "mcp.session.message"
    _description = "MCP Message for an SSE Stream"
    _order = "id"

    session_id = fields.Many2one(
        "mcp.session", required=True, ondelete="cascade", index=True
    )
    payload = fields.Json(required=True)
