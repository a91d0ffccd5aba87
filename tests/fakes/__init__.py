"""Loopback fakes of the services CaptainsLog talks to (OpenAI, Discord, Slack).

Each fake is a small aiohttp server on 127.0.0.1 that the real client library
accepts.  They run in a background thread (see :mod:`tests.fakes.base`) so that
synchronous tests, subprocesses and benchmarks can use them as well as async tests.
"""
