"""The conversation core: platform-independent, speaks only in plain types (core.types)."""
