"""The tool registry: schemas for the model, and safe execution of its calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.llm import ToolCall
from core.types import OutgoingFile

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may know about the turn that called it."""

    user_id: int
    conversation_id: int
    now: datetime
    timezone: ZoneInfo


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What goes back to the model, and any files to show the user."""

    content: str
    files: tuple[OutgoingFile, ...] = ()
    is_error: bool = False


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable[str | ToolResult]]


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call.

    ``parameters`` is the JSON schema of its arguments; ``status`` is the line
    the user sees while it runs ("Checking the time…").
    """

    name: str
    description: str
    parameters: dict[str, Any]
    handler: ToolHandler
    status: str = ""

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class ToolRegistry:
    """The tools offered to the model, by name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: Iterable[Tool]) -> ToolRegistry:
        registry = cls()
        for tool in tools:
            registry.register(tool)
        return registry

    def register(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self.tools[tool.name] = tool

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    def status_for(self, name: str) -> str:
        tool = self.tools.get(name)
        return tool.status if tool and tool.status else f"Running {name}…"

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run one call. Never raises: failures come back as an error result for the model."""
        tool = self.tools.get(call.name)
        if tool is None:
            return ToolResult(f"Error: there is no tool named {call.name!r}.", is_error=True)
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return ToolResult(f"Error: the arguments were not valid JSON ({exc}).", is_error=True)
        try:
            result = await tool.handler(arguments, context)
        except ToolInputError as exc:
            return ToolResult(f"Error: {exc}", is_error=True)
        except Exception as exc:  # noqa: BLE001 - a broken tool must not end the turn
            log.exception("tool %s failed", call.name)
            return ToolResult(f"Error: the tool failed ({type(exc).__name__}).", is_error=True)
        return result if isinstance(result, ToolResult) else ToolResult(str(result))


class ToolInputError(ValueError):
    """Raised by a tool when the model's arguments make no sense; the message goes to the model."""
