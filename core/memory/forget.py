"""``/forget-me``: delete everything stored about one user, in every table.

The one operation that really deletes.  It walks every table of the schema
(children before parents), so tables added later are covered without change:
a row that points at the user, at one of their conversations or at one of
their messages is deleted; a nullable ``SET NULL`` link from someone else's
row to one of their messages is cut instead.  The full-text rows go too.
"""

from __future__ import annotations

from sqlalchemy import Column, Table, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.database import Database
from core.db.models import Base, Conversation, Message, User
from core.memory import fts

# Columns that name a user even where no foreign key says so.
USER_COLUMNS = ("user_id", "author_user_id", "owner_user_id")


async def forget_me(db: Database, user_id: int) -> dict[str, int]:
    """Delete the user and all their data in one transaction; returns rows affected per table."""
    conversations = select(Conversation.id).where(Conversation.user_id == user_id)
    messages = select(Message.id).where(
        or_(Message.conversation_id.in_(conversations), Message.author_user_id == user_id)
    )
    counts: dict[str, int] = {}
    async with db.engine.begin() as conn:
        await fts.remove_user(conn, user_id)
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == User.__tablename__:
                continue
            counts[table.name] = await _clear(conn, table, user_id, conversations, messages)
        result = await conn.execute(delete(User).where(User.id == user_id))
        counts[User.__tablename__] = int(result.rowcount or 0)
    return {name: count for name, count in counts.items() if count}


async def _clear(conn: AsyncConnection, table: Table, user_id: int, conversations: object, messages: object) -> int:
    owned = []
    links_to_cut: list[Column[object]] = []
    for column in table.columns:
        targets = {fk.column.table.name for fk in column.foreign_keys}
        if "users" in targets or (not column.foreign_keys and column.name in USER_COLUMNS):
            owned.append(column == user_id)
        elif "conversations" in targets and table.name != "conversations":
            owned.append(column.in_(conversations))  # type: ignore[arg-type]
        elif "messages" in targets and table.name != "messages":
            set_null = any(fk.ondelete and fk.ondelete.upper() == "SET NULL" for fk in column.foreign_keys)
            if set_null and column.nullable:
                links_to_cut.append(column)
            else:
                owned.append(column.in_(messages))  # type: ignore[arg-type]
    total = 0
    if owned:
        result = await conn.execute(delete(table).where(or_(*owned)))
        total += int(result.rowcount or 0)
    for column in links_to_cut:
        result = await conn.execute(update(table).where(column.in_(messages)).values({column.name: None}))  # type: ignore[arg-type]
        total += int(result.rowcount or 0)
    return total
