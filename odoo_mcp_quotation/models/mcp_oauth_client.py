import contextlib
import hmac
import secrets
import zlib
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import config

from .. import compat
from ..lib import client_metadata, scopes
from ..lib.settings import read_setting
from ..services.oauth_server import secret_hash

METADATA_CACHE = timedelta(hours=1)
UNUSED_CLIENT_TTL = timedelta(days=1)
# advisory locks (namespace, id) held on the request's connection while a
# metadata document is fetched: one per URL, and one of a few slots
FETCH_URL_LOCK = 0x4D435003
FETCH_SLOT_LOCK = 0x4D435004
# documents fetched at once, across every worker and server
MAX_CONCURRENT_FETCHES = 2
# documents and failures this process fetched lately (no row before consent)
RECENT_FETCHES = client_metadata.RecentFetches()


class FetchBusy(client_metadata.ClientMetadataError):
    """Too many documents are being fetched right now (or this very one), or
    by this user in the last minute; ``wait``: seconds before trying again."""

    def __init__(self, wait=5):
        super().__init__(
            f"Too many apps are being identified right now: try again in {wait} "
            "seconds."
        )
        self.wait = wait


def fetch_slots():
    """How many fetches this server may run at once: never more than half of
    its HTTP workers (one in threaded mode), and never more than
    MAX_CONCURRENT_FETCHES across servers."""
    return max(1, min(MAX_CONCURRENT_FETCHES, (config["workers"] or 0) // 2))


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
        """The active stored client with this ID; never fetches: a client known
        by a metadata document is stored at its first consent, and until then
        holds no code or token anyone could present."""
        if not isinstance(client_id, str) or not client_id:
            return self.browse()
        return self.sudo().search([("client_id", "=", client_id)], limit=1)

    @api.model
    def _authorizing(self, client_id):
        """The client an authorization request names, for a logged-in user: a
        stored one, or for a metadata document URL one fetched now (a record
        not saved: see ``_store_metadata``). Raises ClientMetadataError."""
        if not client_metadata.is_metadata_url(client_id):
            return self._lookup(client_id)
        client_metadata.parse_client_id(client_id)
        stored = self.sudo().with_context(active_test=False)._lookup(client_id)
        if (
            stored
            and stored.metadata_fetched_at
            and (fields.Datetime.now() - stored.metadata_fetched_at < METADATA_CACHE)
        ):
            return stored.filtered("active")
        if stored and not stored.active:
            return stored.browse()
        document = self._metadata_document(client_id)
        return self.new(
            {**self._metadata_values(document), "client_id": client_id}, origin=stored
        )

    @api.model
    def _metadata_document(self, url):
        """The validated document at ``url``: remembered by this process, or
        fetched under the locks that bound how many fetches run at once, and
        within the user's budget of fetches a minute."""
        remembered = RECENT_FETCHES.get(url)
        if isinstance(remembered, client_metadata.ClientMetadataError):
            raise remembered
        if remembered:
            return remembered
        limits = self.env["quotation.rate.limit"].sudo()
        key = f"oauth-metadata-fetch:{self.env.uid}"
        per_minute = read_setting(
            self.env, "oauth_metadata_fetches_per_user_per_minute"
        )
        wait = limits._hit(key, per_minute)
        if wait:
            raise FetchBusy(wait)
        with self._fetch_slot(url):
            try:
                document = client_metadata.fetch(url)
            except client_metadata.ClientMetadataError as error:
                RECENT_FETCHES.remember(url, error)
                raise
            finally:  # counted again: the slot rolled the first count back
                limits._hit(key, per_minute)
        RECENT_FETCHES.remember(url, document)
        return document

    @contextlib.contextmanager
    def _fetch_slot(self, url):
        """Hold the URL's lock and a free slot, with no transaction open.

        Session-level advisory locks, taken with try-locks so that nobody
        waits: a second fetch of the same URL, or one beyond the slots, is
        refused at once (FetchBusy). The request's transaction is rolled back
        before the fetch (the request has written nothing yet): no snapshot,
        row or table lock is held while a stranger's server takes its time.
        A worker that dies releases its locks with its connection.
        """
        cr = self.env.cr
        url_key = zlib.crc32(url.encode()) - 2**31  # PostgreSQL's int4
        held = []
        try:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [FETCH_URL_LOCK, url_key])
            if not cr.fetchone()[0]:
                raise FetchBusy()
            held.append((FETCH_URL_LOCK, url_key))
            for slot in range(fetch_slots()):
                cr.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", [FETCH_SLOT_LOCK, slot]
                )
                if cr.fetchone()[0]:
                    held.append((FETCH_SLOT_LOCK, slot))
                    break
            else:
                raise FetchBusy()
            cr.rollback()
            yield
        finally:
            for namespace, key in held:
                cr.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key])

    @api.model
    def _metadata_values(self, document):
        """The client's fields from its document (remembered at most a few
        minutes by this process before it is stored)."""
        return {
            "name": document["client_name"],
            "kind": "metadata_document",
            "redirect_uris": "\n".join(document["redirect_uris"]),
            "token_endpoint_auth_method": "none",
            "metadata_fetched_at": fields.Datetime.now(),
        }

    def _store_metadata(self):
        """The stored client of this metadata document client, written at the
        user's consent: created the first time, updated when fetched again."""
        self.ensure_one()
        if self.id:
            return self
        values = {
            name: self[name]
            for name in (
                "name",
                "kind",
                "redirect_uris",
                "token_endpoint_auth_method",
                "metadata_fetched_at",
            )
        }
        if self._origin:
            self._origin.sudo().write(values)
            return self._origin
        return self.sudo().create({**values, "client_id": self.client_id})

    def _check_secret(self, secret):
        self.ensure_one()
        stored = self.sudo().secret_hash
        return bool(
            stored and secret and hmac.compare_digest(stored, secret_hash(secret))
        )

    @api.model
    def _cron_vacuum(self):
        """Claude registers a client on every fresh connection: forget the
        clients, registered or known by a document, that hold no grant (a
        consent whose code was never exchanged is no use), and the tokens
        nobody can use any more."""
        stale = fields.Datetime.now() - UNUSED_CLIENT_TTL
        self.env["mcp.oauth.grant"].sudo().with_context(active_test=False).search(
            [("connected", "=", False), ("create_date", "<", stale)]
        ).unlink()
        unused = (
            self.sudo()
            .with_context(active_test=False)
            .search([("grant_ids", "=", False), ("create_date", "<", stale)])
        )
        unused.unlink()
        self.env["mcp.oauth.token"]._vacuum()
