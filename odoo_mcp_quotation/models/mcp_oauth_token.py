from odoo import api, fields, models

from .. import compat
from ..services.oauth_server import secret_hash


@compat.unique_constraints(
    ("token_hash_unique", "UNIQUE(token_hash)", "Token collision."),
)
class McpOauthToken(models.Model):
    """An authorization code, access token or refresh token, stored only as
    the SHA-256 of its value: the value itself exists only in the answer."""

    _name = "mcp.oauth.token"
    _description = "OAuth Token of the MCP Server"
    _log_access = False

    grant_id = fields.Many2one(
        "mcp.oauth.grant", required=True, ondelete="cascade", index=True
    )
    kind = fields.Selection(
        [("code", "Code"), ("access", "Access"), ("refresh", "Refresh")],
        required=True,
    )
    token_hash = fields.Char(required=True)
    expires_at = fields.Datetime(required=True)
    used_at = fields.Datetime(help="When a code or refresh token was redeemed.")
    code_challenge = fields.Char()
    redirect_uri = fields.Char()

    @api.model
    def _issue(self, grant, kind, secret, lifetime, **values):
        """Keep the hash of a new ``secret`` of ``kind`` for ``grant``."""
        self.sudo().create(
            {
                "grant_id": grant.id,
                "kind": kind,
                "token_hash": secret_hash(secret),
                "expires_at": fields.Datetime.now() + lifetime,
                **values,
            }
        )

    @api.model
    def _find(self, secret, kinds):
        """The row of ``secret``, locked against a concurrent redemption."""
        if not isinstance(secret, str) or not secret:
            return self.browse()
        cr = self.env.cr
        cr.execute(
            "SELECT id FROM mcp_oauth_token WHERE token_hash = %s AND kind IN %s "
            "FOR UPDATE",
            [secret_hash(secret), tuple(kinds)],
        )
        row = cr.fetchone()
        return self.sudo().browse(row[0] if row else [])

    def _usable(self):
        return bool(
            self
            and self.expires_at > fields.Datetime.now()
            and self.grant_id.active
            and self.grant_id.client_id.active
        )

    @api.model
    def _vacuum(self):
        self.env.cr.execute(
            "DELETE FROM mcp_oauth_token "
            "WHERE expires_at < (now() AT TIME ZONE 'UTC') - interval '1 day'"
        )
