"""Tools the model can call: the registry and the built-in tools."""

from core.tools.registry import Tool, ToolContext, ToolRegistry, ToolResult

__all__ = ["Tool", "ToolContext", "ToolRegistry", "ToolResult"]
