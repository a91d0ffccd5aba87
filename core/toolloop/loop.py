"""The model/tool loop: stream a completion, run the tools it asks for, repeat.

Used by the chat turn and by agents alike.  The loop only produces events
(text, status lines, files) and collects what happened in a
:class:`LoopOutcome`; storing the answer is the caller's business.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.agents.sources import unshown_sources
from core.buttons import Button
from core.limits import LimitSettings, UsageLimits
from core.llm import ChatModel, ModelFinished, ModelText, ModelToolCalls, ToolCall, Usage
from core.tools.registry import ToolContext, ToolRegistry, ToolResult
from core.types import ButtonsOffered, StatusUpdate, TextDelta, TurnEvent

log = logging.getLogger(__name__)

OVER_ROUND = (
    "Refused: not run. At most {cap} tool calls are run per step; ask again for what is still needed, "
    "fewer at a time, or answer with what you have."
)
OVER_TURN = (
    "Refused: not run. This answer already used its {cap} tool calls; answer the user with what you have "
    "and say what is missing."
)


@dataclass(slots=True)
class LoopOutcome:
    """What one run of the loop produced: the answer's pieces, the summed usage and the tool results."""

    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    tool_results: list[tuple[str, str]] = field(default_factory=list)  # (tool name, content given to the model)
    links: list[str] = field(default_factory=list)  # sources the agents' results named, in order

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add_usage(self, more: Usage | None) -> None:
        """Add one model call's usage (agents' calls included) to the run's total."""
        if more is None:
            return
        if self.usage is None:
            self.usage = more
        else:
            self.usage = Usage(
                self.usage.prompt_tokens + more.prompt_tokens,
                self.usage.completion_tokens + more.completion_tokens,
            )


class TextFilter(Protocol):
    """Rewrites the streamed text on its way out (e.g. drops a leading time stamp)."""

    def feed(self, text: str) -> str: ...

    def flush(self) -> str: ...


class ToolLoop:
    """Runs up to ``max_rounds`` rounds of tool calls, then asks for a final answer without tools.

    ``limits`` caps the calls run per round and per run (the rest get a "refused" result, so the model
    can still answer) and counts paid tools against the user's daily allowances.
    """

    def __init__(
        self,
        model: ChatModel,
        *,
        max_rounds: int = 6,
        model_name: str | None = None,
        limits: UsageLimits | None = None,
    ) -> None:
        self.model = model
        self.max_rounds = max_rounds
        self.model_name = model_name
        self.limits = limits

    async def run(
        self,
        messages: list[dict[str, Any]],
        tools: ToolRegistry,
        context: ToolContext,
        outcome: LoopOutcome,
        *,
        text_filter: TextFilter | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Stream the answer to ``messages`` (extended in place with tool calls and results).

        Raises :class:`core.llm.ModelError` when the model fails; ``outcome`` keeps
        whatever was produced before.
        """
        status_shown = False
        notices: list[str] = []
        buttons: list[Button] = []
        caps = self.limits.settings if self.limits is not None else LimitSettings()
        runs = 0  # tool calls run in this whole run
        for round_number in range(self.max_rounds + 1):
            spent = bool(caps.tool_calls_per_turn) and runs >= caps.tool_calls_per_turn
            offer_tools = tools.schemas() if round_number < self.max_rounds and not spent else []
            requested = None
            if round_number and outcome.parts and not outcome.text[-1].isspace():
                # Text from before and after a tool call are two paragraphs of one answer.
                outcome.parts.append("\n\n")
                yield TextDelta("\n\n")
            async with aclosing(self.model.stream_chat(messages, tools=offer_tools, model=self.model_name)) as stream:
                async for event in stream:
                    if isinstance(event, ModelText):
                        text = text_filter.feed(event.text) if text_filter else event.text
                        if not text:
                            continue
                        if status_shown:
                            status_shown = False
                            yield StatusUpdate("")
                        outcome.parts.append(text)
                        yield TextDelta(text)
                    elif isinstance(event, ModelToolCalls):
                        requested = event
                    elif isinstance(event, ModelFinished):
                        outcome.add_usage(event.usage)
            held = text_filter.flush() if text_filter else ""
            if held:
                outcome.parts.append(held)
                yield TextDelta(held)
            if requested is None:
                break
            messages.append(
                {
                    "role": "assistant",
                    "content": requested.text or None,
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in requested.calls
                    ],
                }
            )
            refused = 0
            for index, call in enumerate(requested.calls):
                refusal = _over_cap(index, runs, caps)
                if refusal is not None:
                    refused += 1
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": refusal})
                    continue
                runs += 1
                status_shown = True
                yield StatusUpdate(tools.status_for(call.name))
                result = await self._run_one(call, tools, context)
                if result.is_error:
                    # The error quotes the user's words (a date, a search): INFO names the tool only.
                    log.info("tool %s returned an error to the model", call.name)
                    log.debug("tool %s error: %s", call.name, result.content[:200])
                outcome.add_usage(result.usage)
                outcome.tool_results.append((call.name, result.content))
                outcome.links.extend(getattr(result, "links", ()))
                if result.notice:
                    notices.append(result.notice)
                buttons.extend(result.buttons)
                for file in result.files:
                    yield file
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
            if refused:
                log.warning(
                    "conversation %s: the model asked for %d tool calls in one step; %d refused "
                    "(caps %d a step, %d a turn)",
                    context.conversation_id,
                    len(requested.calls),
                    refused,
                    caps.tool_calls_per_round,
                    caps.tool_calls_per_turn,
                )
        if status_shown:
            yield StatusUpdate("")
        for notice in notices:  # said by the code, not the model: a planted instruction cannot change it
            shown = f"\n\n_{notice}_" if outcome.text.strip() else f"_{notice}_"
            outcome.parts.append(shown)
            yield TextDelta(shown)
        sources = unshown_sources(outcome.text, outcome.links) if outcome.links and outcome.text.strip() else ""
        if sources:
            # The user sees where the facts came from even when the model's answer left the links out.
            outcome.parts.append(sources)
            yield TextDelta(sources)
        if buttons:
            yield ButtonsOffered(tuple(buttons))

    async def _run_one(self, call: ToolCall, tools: ToolRegistry, context: ToolContext) -> ToolResult:
        """Run one call, first counting a paid tool against the user's daily allowance."""
        kind = tools.quota_of(call.name)
        if kind and self.limits is not None:
            over = await self.limits.take(context.user_id, kind)
            if over is not None:
                return ToolResult(f"Refused: not run. {over} Tell the user.", is_error=True)
        return await tools.run(call, context)


def _over_cap(index: int, runs: int, caps: LimitSettings) -> str | None:
    """The refusal for the ``index``-th call of a round when a cap is reached, else None (zero: no cap)."""
    if caps.tool_calls_per_turn and runs >= caps.tool_calls_per_turn:
        return OVER_TURN.format(cap=caps.tool_calls_per_turn)
    if caps.tool_calls_per_round and index >= caps.tool_calls_per_round:
        return OVER_ROUND.format(cap=caps.tool_calls_per_round)
    return None
