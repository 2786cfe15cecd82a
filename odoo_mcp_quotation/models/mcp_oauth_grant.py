from odoo import _, fields, models
from odoo.exceptions import AccessError

from ..lib import scopes


class McpOauthGrant(models.Model):
    """One consent: a user let a client act for them with some scopes.

    The grant is the family of every code, access token and refresh token it
    issued: revoking it (by the user, an administrator, or on the reuse of a
    code or refresh token) refuses them all at once.
    """

    _name = "mcp.oauth.grant"
    _description = "Connected App (OAuth Grant)"
    _order = "create_date desc, id desc"
    _rec_name = "client_id"

    client_id = fields.Many2one(
        "mcp.oauth.client", required=True, ondelete="cascade", index=True, readonly=True
    )
    user_id = fields.Many2one(
        "res.users", required=True, ondelete="cascade", index=True, readonly=True
    )
    scopes = fields.Char(readonly=True)
    resource = fields.Char(readonly=True, help="The MCP server the tokens are for.")
    active = fields.Boolean(default=True, readonly=True)
    connected = fields.Boolean(
        readonly=True, help="The client exchanged its code for tokens."
    )
    last_used_at = fields.Datetime(string="Last Used", readonly=True)
    redirect_host = fields.Char(compute="_compute_redirect_host")

    def _compute_redirect_host(self):
        for grant in self:
            uris = grant.client_id._redirect_uri_list()
            grant.redirect_host = uris and uris[0].split("/")[2]

    def _scope_set(self):
        return scopes.parse(self.scopes, strict=False)

    def action_revoke(self):
        """Users revoke their own apps; OAuth administrators anyone's."""
        manager = self.env.user.has_group("base.group_system")
        if not manager and self.filtered(lambda g: g.user_id != self.env.user):
            raise AccessError(_("You can only revoke your own connected apps."))
        self._revoke()

    def _revoke(self):
        self.sudo().write({"active": False})
