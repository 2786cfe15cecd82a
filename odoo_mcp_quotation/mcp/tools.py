"""Tool definitions and tool results.

No Odoo here. A :class:`Tool` is a contract (schemas, annotations) and a
handler; its results are ``CallToolResult`` documents serialised with the
official ``mcp_types`` models, per protocol revision.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp_types import methods as mcp_methods
from mcp_types.version import is_version_at_least as at_least

from .framing import dumps
from .versions import STRUCTURED_OUTPUT_SINCE, TASKS_SINCE, is_modern

# tool annotations have no hint for it: a tool that returns people's personal
# data says so in its description and under this ``_meta`` key
PERSONAL_DATA_META_KEY = "odoo-mcp-quotation/personal-data"
RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task"


@dataclass(frozen=True)
class Tool:
    """A tool and its contract; ``handler(context, arguments)`` returns a dict.

    The handler raises ``ToolError`` for anything the model can fix; the dict
    it returns is the ``structuredContent`` and matches ``output_schema``.
    """

    name: str
    title: str
    description: str
    input_schema: dict
    output_schema: dict
    handler: Callable[[Any, dict], dict]
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    task_support: str | None = None  # "optional": may run as an MCP task
    # asks: ``handler(context, arguments, answers)``, where ``answers`` are the
    # client's answers so far ({} at first), or None for a client that cannot
    # answer: the handler then goes on without asking (mcp/elicitation.py)
    asks: bool = False
    personal_data: bool = False

    def definition(self, version):
        tool = types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                open_world_hint=False,
            ),
            meta={PERSONAL_DATA_META_KEY: True} if self.personal_data else None,
        )
        if at_least(version, STRUCTURED_OUTPUT_SINCE):
            tool.output_schema = self.output_schema
        if (
            self.task_support
            and at_least(version, TASKS_SINCE)
            and not is_modern(version)  # the tasks extension needs no per-tool flag
        ):
            tool.execution = types.ToolExecution(task_support=self.task_support)
        return tool.model_dump(mode="json", by_alias=True, exclude_none=True)


def serialize(method, version, result):
    """A result model as the wire carries it in ``version``."""
    return mcp_methods.serialize_server_result(
        method, version, result.model_dump(mode="json", by_alias=True)
    )


def tool_result(structured, version, related_task=None):
    """A CallToolResult: the JSON as text for every client, structured for new ones."""
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text=dumps(structured))],
        structured_content=structured
        if at_least(version, STRUCTURED_OUTPUT_SINCE)
        else None,
    )
    return _with_related_task(serialize("tools/call", version, result), related_task)


def tool_error_result(error, version, related_task=None):
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text=error.text())], is_error=True
    )
    return _with_related_task(serialize("tools/call", version, result), related_task)


def _with_related_task(result, task_id):
    if task_id:
        result.setdefault("_meta", {})[RELATED_TASK_META_KEY] = {"taskId": task_id}
    return result
