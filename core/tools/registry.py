"""The tool registry: schemas for the model, and safe execution of its calls.

Tools are objects built once in the container with whatever they need (a
Google client, the memory store) and given the asking user at each call.  A
tool that cannot work for a user (Google not connected, search not
configured) says so through :meth:`ToolBase.available_for` and is then not
offered to the model at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.buttons import Button
from core.db.repositories import UserRecord
from core.llm import ToolCall, Usage
from core.types import ConversationRef, OutgoingFile

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may know about the turn that called it.

    ``user`` is the person who wrote the message being answered (the speaker);
    ``owner_user_id`` owns the conversation.  They differ in a shared thread, where a
    tool must act for the speaker and show only what the conversation may see.
    """

    user: UserRecord
    conversation_id: int
    now: datetime
    timezone: ZoneInfo
    owner_user_id: int | None = None
    place: ConversationRef | None = None
    user_message_id: int | None = None
    # The oldest message of this conversation in the model's context: it already sees every later one.
    in_view_from: int | None = None
    shared: bool = False  # a place other people read: a tool that changes data first asks the speaker

    @property
    def user_id(self) -> int:
        return self.user.id


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What goes back to the model, and any files to show the user."""

    content: str
    files: tuple[OutgoingFile, ...] = ()
    is_error: bool = False
    usage: Usage | None = None  # model calls the tool made (an agent's), added to the turn's usage
    notice: str = ""  # a line the user sees under the answer whatever the model writes (a confirmation request)
    buttons: tuple[Button, ...] = ()  # shown under the answer (Undo under a confirmation)


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable[str | ToolResult]]


class ToolBase:
    """A tool object: subclass, set the class attributes, implement :meth:`run`.

    ``parameters`` is the JSON schema of its arguments; ``status`` is the line
    the user sees while it runs ("Checking the time…").
    """

    # Set by each subclass (class attributes or dataclass fields).
    name: str
    description: str
    parameters: dict[str, Any]
    status: str
    # The daily allowance a call counts against (core.limits kinds: "web_searches", "images", "calendar_changes");
    # empty for free tools.
    quota: str = ""
    # Reads or changes the speaker's own data (memories, Calendar, stored images): not offered in a
    # place other people read, where its result would be shown to them.
    private: bool = False
    # Changes the speaker's data (Calendar create, move, cancel): in a shared place it runs only once the
    # speaker confirms (core/tools/confirm.py).
    changes_data: bool = False

    def available_for(self, user: UserRecord) -> bool:
        """Whether this tool can work for ``user``; tools that cannot are not offered."""
        return True

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True, slots=True)
class Tool(ToolBase):
    """A tool made of a plain async function, for tools that need nothing but their arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: ToolHandler
    status: str = ""

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        return await self.handler(arguments, context)


@dataclass
class ToolRegistry:
    """The tools offered to the model, by name."""

    tools: dict[str, ToolBase] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: Iterable[ToolBase]) -> ToolRegistry:
        registry = cls()
        for tool in tools:
            registry.register(tool)
        return registry

    def register(self, tool: ToolBase) -> None:
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self.tools[tool.name] = tool

    def for_user(self, user: UserRecord, *, shared: bool = False) -> ToolRegistry:
        """The tools that can work for ``user``: the ones the model is offered in their turns.

        ``shared``: the turn is in a place other people read, so the private tools are left out.
        """
        offered = {
            name: tool
            for name, tool in self.tools.items()
            if tool.available_for(user) and not (shared and tool.private)
        }
        return self if len(offered) == len(self.tools) else ToolRegistry(offered)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    def quota_of(self, name: str) -> str:
        """The daily allowance a call of ``name`` counts against ("" for free tools and unknown names)."""
        return getattr(self.tools.get(name), "quota", "") or ""

    def status_for(self, name: str) -> str:
        tool = self.tools.get(name)
        status = getattr(tool, "status", "") if tool else ""
        return status or f"Running {name}…"

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
            result = await tool.run(arguments, context)
        except ToolInputError as exc:
            return ToolResult(f"Error: {exc}", is_error=True)
        except Exception as exc:  # noqa: BLE001 - a broken tool must not end the turn
            log.exception("tool %s failed", call.name)
            return ToolResult(f"Error: the tool failed ({type(exc).__name__}).", is_error=True)
        return result if isinstance(result, ToolResult) else ToolResult(str(result))


class ToolInputError(ValueError):
    """Raised by a tool when the model's arguments make no sense; the message goes to the model."""
