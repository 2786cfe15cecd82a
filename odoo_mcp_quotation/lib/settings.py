"""Every setting of the addon, once: its ``ir.config_parameter`` key, its
default and how the stored text becomes the value the code uses.

The readers (models, services, controllers) and the Settings form all take
keys, defaults and parsers from here, so no default or parsing rule is
written twice. Free of Odoo: :func:`read_setting` only needs an environment.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .audit_store import key_prefix
from .client_registration import DEFAULT_ALLOWED_REDIRECTS, parse_allow_list
from .conversation_init import share_setting, shareable

_logger = logging.getLogger(__name__)

PREFIX = "odoo_mcp_quotation."


def at_least(minimum):
    """A whole number of at least ``minimum``; anything else is unusable."""

    def parse(value):
        number = int(value)
        if number < minimum:
            raise ValueError(f"{number} is below {minimum}")
        return number

    return parse


def flag(value):
    """Odoo stores a ticked box as ``"True"`` and an unticked one as nothing."""
    return str(value).strip() not in ("", "False", "0")


def text(value):
    return str(value or "").strip()


def record_id(value):
    """The id a Many2one setting stores, or None."""
    value = str(value or "").strip()
    return int(value) if value.isdigit() else None


def origins(value):
    """Comma-separated origins, as browsers send them (no trailing slash)."""
    return [
        origin.strip().rstrip("/")
        for origin in str(value or "").split(",")
        if origin.strip()
    ]


@dataclass(frozen=True)
class Setting:
    """``default`` is what the Settings form shows for an unset key;
    ``parse`` turns it, or the stored text, into the value (ValueError:
    the text is unusable)."""

    name: str
    default: Any = ""
    parse: Callable[[Any], Any] = text

    @property
    def key(self):
        return PREFIX + self.name

    def value(self, stored):
        """The value of the stored text; the default if it is unset or unusable."""
        if stored not in (None, False, ""):
            try:
                return self.parse(stored)
            except ValueError:
                _logger.warning("Setting %s is unusable: default used", self.key)
        return self.parse(self.default)

    def field(self):
        """``config_parameter`` and ``default`` of its res.config.settings field."""
        if self.default in (None, False, ""):
            return {"config_parameter": self.key}
        return {"config_parameter": self.key, "default": self.default}


SETTINGS = {
    setting.name: setting
    for setting in (
        # quotations
        Setting("team_id", False, record_id),
        Setting("user_id", False, record_id),
        Setting("pricelist_id", False, record_id),
        Setting("send_quotation_email", False, flag),
        # task queue
        Setting("max_attempts", 5, at_least(1)),
        Setting("backoff_seconds", 10, at_least(0)),  # then 20, 40, ...
        Setting("backoff_max_seconds", 3600, at_least(0)),
        # a task still processing after this was orphaned
        Setting("lease_seconds", 300, at_least(1)),
        Setting("batch_size", 5, at_least(1)),
        # an HTTP worker builds the request it queued when the queue is idle
        # (a system parameter: "False" leaves every build to the crons)
        Setting("build_when_idle", True, flag),
        # agent access: requests a minute per API key (or OAuth token) and per
        # user whatever key or token it uses; a minute may be spent in one burst
        Setting("rate_limit_per_minute", 300, at_least(1)),
        Setting("rate_limit_per_user_per_minute", 600, at_least(1)),
        Setting("mcp_streams_per_user", 5, at_least(1)),
        Setting("mcp_streams", 50, at_least(1)),
        Setting("mcp_allowed_origins", "", origins),
        # audit log
        Setting("audit_enabled", False, flag),
        Setting("audit_prefix", "quotation-audit", key_prefix),
        Setting("audit_s3_bucket"),
        Setting("audit_s3_region"),
        Setting("audit_s3_endpoint_url"),
        Setting("audit_s3_access_key_id"),
        Setting("audit_s3_secret_access_key"),
        Setting("audit_local_directory"),
        Setting("audit_batch_size", 100, at_least(1)),
        Setting("audit_concurrency", 8, at_least(1)),
        Setting("audit_backoff_seconds", 30, at_least(0)),  # then 60, 120, ...
        # never more than 10 min behind a recovered store
        Setting("audit_backoff_max_seconds", 600, at_least(0)),
        # sent entries kept in Odoo; 0 keeps them forever
        Setting("audit_retention_days", 30, at_least(0)),
        # OAuth
        Setting("oauth_enabled", False, flag),
        Setting("oauth_access_token_minutes", 60, at_least(1)),
        Setting("oauth_refresh_token_days", 30, at_least(1)),
        # Claude registers a client on each fresh connection: per IPv4 address
        # or IPv6 /64, and from every address at once
        Setting("oauth_registrations_per_minute", 20, at_least(1)),
        Setting("oauth_registrations_per_minute_total", 200, at_least(1)),
        # client metadata documents one user may have fetched a minute:
        # connecting an app takes one or two
        Setting("oauth_metadata_fetches_per_user_per_minute", 6, at_least(1)),
        Setting(
            "oauth_redirect_allow_list",
            " ".join(DEFAULT_ALLOWED_REDIRECTS),
            parse_allow_list,
        ),
        # ElevenLabs post-call webhook
        Setting("elevenlabs_webhook_secret"),
        # the user whose key the voice agent's tools send: a call joins only
        # that user's tasks; unset, calls join none (they wait in triage)
        Setting("elevenlabs_user_id", False, record_id),
        # landed deliveries kept in Odoo; 0 keeps them forever
        Setting("elevenlabs_delivery_retention_days", 30, at_least(0)),
        # ElevenLabs conversation initiation webhook: the secret header's
        # value, and which variables are answered (personal data off)
        Setting("elevenlabs_init_secret"),
        *(
            Setting(share_setting(variable), shared, flag)
            for variable, shared in shareable().items()
        ),
    )
}


def read_setting(env, name):
    """The value of setting ``name`` (a key of :data:`SETTINGS`)."""
    setting = SETTINGS[name]
    return setting.value(env["ir.config_parameter"].sudo().get_param(setting.key))


def setting_field(name):
    return SETTINGS[name].field()
