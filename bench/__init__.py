"""Benchmarks with their own entry points; never run as timed tests."""
