"""Alembic migrations: the only way the schema changes. Run with ``python -m bot migrate``."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent
