"""MCP Apps (extension ``io.modelcontextprotocol/ui``, spec 2026-01-26).

No Odoo here. An :class:`App` is an HTML view a host shows in place of a
tool's text: a ``ui://`` resource served by ``resources/list`` and
``resources/read`` and named by its tools' ``_meta.ui.resourceUri``. All of it
is offered only to clients that announce the extension in their capabilities;
the others see neither the resources nor the tool metadata, and every tool
result keeps its complete text for them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from mcp_types import methods as mcp_methods
from pydantic import ValidationError

from .errors import McpError, invalid_params
from .versions import LIST_CACHE_SCOPE, LIST_TTL_MS, is_modern

UI_EXTENSION = "io.modelcontextprotocol/ui"
MIME_TYPE = "text/html;profile=mcp-app"
RESOURCE_NOT_FOUND = -32002  # the code MCP gives an unknown resource
# nothing from outside: no fetch, no script, style, font or image from a host
STRICT_CSP = {"connectDomains": [], "resourceDomains": [], "frameDomains": []}


@dataclass(frozen=True)
class App:
    """One view; ``html()`` returns the self-contained document."""

    uri: str
    name: str
    title: str
    description: str
    html: Callable[[], str]
    tools: tuple = ()
    csp: dict = field(default_factory=lambda: dict(STRICT_CSP))

    def resource(self):
        return {
            "uri": self.uri,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "mimeType": MIME_TYPE,
        }

    def contents(self):
        return {
            "uri": self.uri,
            "mimeType": MIME_TYPE,
            "text": self.html(),
            "_meta": {"ui": {"csp": self.csp, "prefersBorder": True}},
        }


def shows_apps(capabilities):
    """Whether a client's capabilities announce the extension's HTML views."""
    if not isinstance(capabilities, dict):
        return False
    extensions = capabilities.get("extensions")
    ui = extensions.get(UI_EXTENSION) if isinstance(extensions, dict) else None
    mime_types = ui.get("mimeTypes") if isinstance(ui, dict) else None
    return isinstance(mime_types, list) and MIME_TYPE in mime_types


@dataclass
class Apps:
    """A server's apps: what it adds to capabilities, tools and resources
    for a client that shows them."""

    apps: list

    def __post_init__(self):
        self._by_uri = {app.uri: app for app in self.apps}
        self._by_tool = {tool: app.uri for app in self.apps for tool in app.tools}

    def methods(self, versions):
        """The methods the server answers for its apps, in ``versions``."""
        return {
            "resources/list": (self.list_resources, versions),
            "resources/read": (self.read_resource, versions),
        }

    def offer(self, result):
        """A serialised ``initialize``, ``server/discover`` or ``tools/list``
        result with what a client that shows apps needs: the resources
        capability and the extension, and each tool naming its view."""
        capabilities = result.get("capabilities")
        if capabilities is not None:
            capabilities["resources"] = {"listChanged": False}
            capabilities.setdefault("extensions", {})[UI_EXTENSION] = {
                "mimeTypes": [MIME_TYPE]
            }
        for tool in result.get("tools", ()):
            uri = self._by_tool.get(tool["name"])
            if uri:
                tool.setdefault("_meta", {})["ui"] = {"resourceUri": uri}
        return result

    def list_resources(self, params, exchange):
        """``resources/list``: the views, for a client that shows them (none
        for others)."""
        _parse("resources/list", exchange.version, params or None)
        shown = exchange.shows_apps
        resources = [app.resource() for app in self.apps] if shown else []
        return _result("resources/list", exchange.version, {"resources": resources})

    def read_resource(self, params, exchange):
        """``resources/read``: a view's HTML and its ``_meta.ui``."""
        uri = _parse("resources/read", exchange.version, params).params.uri
        app = self._by_uri.get(uri) if exchange.shows_apps else None
        if app is None:
            raise McpError(
                RESOURCE_NOT_FOUND,
                f"Resource not found: {uri}. Call resources/list for the ones offered.",
                {"uri": uri},
            )
        contents = {"contents": [app.contents()]}
        return _result("resources/read", exchange.version, contents)


def _parse(method, version, params):
    try:
        return mcp_methods.parse_client_request(method, version, params)
    except ValidationError as error:
        raise invalid_params(method, error) from None


def _result(method, version, result):
    """A result as ``version`` carries it; a view only changes when the
    module is upgraded."""
    if is_modern(version):
        result.update(resultType="complete", ttlMs=LIST_TTL_MS)
        result.update(cacheScope=LIST_CACHE_SCOPE)
    return mcp_methods.serialize_server_result(method, version, result)
