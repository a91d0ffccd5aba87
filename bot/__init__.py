"""The CaptainsLog process: command line, settings, wiring and lifecycle."""
