"""The daily log: one row per user and day, claimed before any work and moved through its steps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class DailyLog(Base):
    """A user's closed day: its summary, its PDF on Drive and where the work stands.

    ``state`` goes claimed → summarised → rendered → uploaded → posted (or failed);
    ``claimed_by``/``claimed_at`` is the lease of the process doing the work and
    ``attempts`` counts acquisitions (it doubles as the fencing token).
    """

    __tablename__ = "daily_logs"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_daily_logs_user_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), index=True)
    summary: Mapped[str | None] = mapped_column(Text)
    drive_file_id: Mapped[str | None] = mapped_column(String(200))
    drive_link: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
