"""Reminders and check-ins the assistant sends by itself, once each, in the person's own time zone."""
