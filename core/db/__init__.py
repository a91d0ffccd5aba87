"""Persistence: SQLAlchemy 2 async models, the database handle and small repositories.

The names below load on first use: ``core.db.url`` (read by the settings) must not pull in the engine,
the models and Alembic, or ``captainslog --version`` would take seconds.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Database": "core.db.database",
    "Base": "core.db.models",
    "Conversation": "core.db.models",
    "Identity": "core.db.models",
    "Message": "core.db.models",
    "User": "core.db.models",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'core.db' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
