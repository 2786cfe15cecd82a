import hmac
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .. import compat
from ..lib import client_metadata, scopes
from ..services.oauth_server import secret_hash

METADATA_CACHE = timedelta(hours=1)
UNUSED_REGISTRATION_TTL = timedelta(days=1)


@compat.unique_constraints(
    ("client_id_unique", "UNIQUE(client_id)", "This client ID already exists."),
)
class McpOauthClient(models.Model):
    """An application that connects to the MCP server through OAuth.

    Registered by itself (dynamic client registration), or known by the URL of
    its client ID metadata document, fetched and cached here.
    """

    _name = "mcp.oauth.client"
    _description = "OAuth Client of the MCP Server"
    _order = "create_date desc, id desc"

    name = fields.Char(required=True)
    client_id = fields.Char(
        string="Client ID", required=True, readonly=True, index=True
    )
    kind = fields.Selection(
        [
            ("registered", "Dynamic registration"),
            ("metadata_document", "Metadata document"),
        ],
        required=True,
        readonly=True,
    )
    redirect_uris = fields.Text(
        string="Redirect URIs", readonly=True, help="One per line."
    )
    token_endpoint_auth_method = fields.Char(readonly=True, default="none")
    secret_hash = fields.Char(readonly=True, groups="base.group_system", copy=False)
    metadata_fetched_at = fields.Datetime(readonly=True)
    active = fields.Boolean(
        default=True,
        help="Archive a client to refuse it and every token it holds.",
    )
    allowed_scopes = fields.Char(
        help="At most these scopes for this app, whatever its users allow, "
        "space-separated; empty: what each user allows. Applies at once to the "
        "tokens it holds.",
    )
    grant_ids = fields.One2many("mcp.oauth.grant", "client_id", string="Grants")
    grant_count = fields.Integer(compute="_compute_grant_count")

    @api.constrains("allowed_scopes")
    def _check_allowed_scopes(self):
        for client in self:
            try:
                scopes.parse(client.allowed_scopes or "")
            except scopes.UnknownScope as error:
                raise ValidationError(str(error)) from None

    def _scope_limit(self, granted):
        """``granted`` within what admins allow this app."""
        if not self.allowed_scopes:
            return granted
        return granted & scopes.parse(self.allowed_scopes, strict=False)

    def _compute_grant_count(self):
        counts = dict(
            self.env["mcp.oauth.grant"]._read_group(
                [("client_id", "in", self.ids)], ["client_id"], ["__count"]
            )
        )
        for client in self:
            client.grant_count = counts.get(client, 0)

    # ------------------------------------------------------------ business
    def _redirect_uri_list(self):
        return (self.redirect_uris or "").split()

    @api.model
    def _register_client(self, values):
        """A new dynamically registered client and its secret (None if public)."""
        secret = None
        if values["token_endpoint_auth_method"] != "none":
            secret = secrets.token_urlsafe(32)
        client = self.sudo().create(
            {
                "name": values["client_name"],
                "client_id": secrets.token_urlsafe(24),
                "kind": "registered",
                "redirect_uris": "\n".join(values["redirect_uris"]),
                "token_endpoint_auth_method": values["token_endpoint_auth_method"],
                "secret_hash": secret and secret_hash(secret),
            }
        )
        return client, secret

    @api.model
    def _lookup(self, client_id):
        """The active client with this ID; a metadata document URL is fetched
        when not cached (raises ClientMetadataError)."""
        clients = self.sudo().with_context(active_test=False)
        client = clients.search([("client_id", "=", client_id)], limit=1)
        if client_metadata.is_metadata_url(client_id):
            fresh = client.metadata_fetched_at and (
                fields.Datetime.now() - client.metadata_fetched_at < METADATA_CACHE
            )
            if not fresh:
                client = self._store_metadata(client, client_metadata.fetch(client_id))
        return client.filtered("active")

    def _store_metadata(self, client, document):
        values = {
            "name": document["client_name"],
            "redirect_uris": "\n".join(document["redirect_uris"]),
            "metadata_fetched_at": fields.Datetime.now(),
        }
        if client:
            client.write(values)
            return client
        return self.sudo().create(
            {**values, "client_id": document["client_id"], "kind": "metadata_document"}
        )

    def _check_secret(self, secret):
        self.ensure_one()
        stored = self.sudo().secret_hash
        return bool(
            stored and secret and hmac.compare_digest(stored, secret_hash(secret))
        )

    @api.model
    def _cron_vacuum(self):
        """Claude registers a client on every fresh connection: forget those
        never used (a consent whose code was never exchanged is no use), and
        the tokens nobody can use any more."""
        stale = fields.Datetime.now() - UNUSED_REGISTRATION_TTL
        self.env["mcp.oauth.grant"].sudo().with_context(active_test=False).search(
            [("connected", "=", False), ("create_date", "<", stale)]
        ).unlink()
        unused = (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("kind", "=", "registered"),
                    ("grant_ids", "=", False),
                    ("create_date", "<", stale),
                ]
            )
        )
        unused.unlink()
        self.env["mcp.oauth.token"]._vacuum()
