"""The terminal chat: the same core and event stream as the chat platforms, in a shell."""

from adapters.terminal.chat import TerminalChat

__all__ = ["TerminalChat"]
