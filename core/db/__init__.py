"""Persistence: SQLAlchemy 2 async models, the database handle and small repositories."""

from core.db.database import Database
from core.db.models import Base, Conversation, Identity, Message, User

__all__ = ["Base", "Conversation", "Database", "Identity", "Message", "User"]
