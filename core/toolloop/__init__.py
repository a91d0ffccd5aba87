"""The model/tool loop, shared by the chat turn and by agents."""

from core.toolloop.loop import LoopOutcome, ToolLoop

__all__ = ["LoopOutcome", "ToolLoop"]
