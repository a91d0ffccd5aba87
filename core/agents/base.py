"""The one shape every agent shares.

An agent receives a request (the user's words, an image, a query), calls its
own model or service, and returns an :class:`AgentResult` marked with its
source.  The core hands that result to the main model as a tool result, with
a flag saying where it came from, never as if the user had said it; the main
model then answers in the conversation's own voice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.llm import Usage
from core.tools.registry import ToolResult
from core.types import OutgoingFile


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """What an agent is asked: the user's words, an optional image, an optional search query."""

    text: str = ""
    image: bytes | None = field(default=None, repr=False)
    query: str = ""


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What an agent found. ``source`` names the agent ("vision agent", "Wikipedia").

    ``usage`` is the agent's own model usage (None when the service reports none),
    for the turn's stored usage.  ``is_error`` marks a short failure note.
    """

    source: str
    content: str
    links: list[str] = field(default_factory=list)
    usage: Usage | None = None
    is_error: bool = False

    def flagged(self) -> str:
        """The text the main model sees: flagged with its source, links listed after it."""
        return flag(self.source, self.content, self.links)

    def as_tool_messages(
        self, call_id: str, tool_name: str, arguments: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """This result as an assistant tool call and its tool answer, for the main model's messages.

        For work the core did before the model was called (the vision agent looking
        at an image that came with the message): the model sees the findings as the
        answer of a tool it called, flagged with their source, never as the user's words.
        """
        return [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool_name, "arguments": json.dumps(arguments or {})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": self.flagged()},
        ]

    def as_tool_result(self, files: tuple[OutgoingFile, ...] = ()) -> AgentToolResult:
        """This result as the tool result handed back to the main model."""
        return AgentToolResult(
            self.flagged(),
            files=files,
            is_error=self.is_error,
            source=self.source,
            links=tuple(self.links),
            usage=self.usage,
        )


@dataclass(frozen=True, slots=True)
class AgentToolResult(ToolResult):
    """A :class:`ToolResult` (``usage`` included) that also names the agent and its source links.

    The registry passes it through unchanged, so the turn can show ``links`` to the user.
    """

    source: str = ""
    links: tuple[str, ...] = ()


def flag(source: str, content: str, links: list[str] | tuple[str, ...] = ()) -> str:
    """``[from the <source>] content`` plus a numbered list of links."""
    text = f"[from the {source}] {content.strip()}"
    if links:
        text += "\n\nSources:\n" + "\n".join(f"[{i}] {link}" for i, link in enumerate(links, 1))
    return text


def failure(source: str, message: str, usage: Usage | None = None) -> AgentResult:
    """A short error result for the main model: the agent could not help this time."""
    return AgentResult(source, f"Error: {message}", usage=usage, is_error=True)


def add_usage(*usages: Usage | None) -> Usage | None:
    """The sum of the given usages (None when none was reported)."""
    reported = [u for u in usages if u is not None]
    if not reported:
        return None
    return Usage(sum(u.prompt_tokens for u in reported), sum(u.completion_tokens for u in reported))
