"""The settings registry: every per-person setting declared once, shown and changed by every view."""
