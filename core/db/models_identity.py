"""Tables of sign-in and Google: one-time OAuth states and encrypted Google tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, utcnow


class OAuthState(Base):
    """A pending sign-in or Google connection, bound to one platform account.

    Only the SHA-256 of the state is kept, so a database dump cannot finish someone's
    sign-in; the PKCE verifier is encrypted. Single use: ``used_at`` is set on the
    first callback that presents it.
    """

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(64))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_verifier: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class LinkRequest(Base):
    """A platform account waiting to be linked to the user of a verified email.

    Made at the sign-in callback; the person who signed in confirms it on a page
    (``confirm_hash``), and when the email's user already has other accounts one of
    them approves or denies it (``approve_hash``). Tokens are stored hashed; ``stage``
    moves confirm → awaiting → linked | denied once, by conditional updates.
    """

    __tablename__ = "link_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    confirm_hash: Mapped[str] = mapped_column(String(64), unique=True)
    approve_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    stage: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(320))
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(64))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()


class GoogleToken(Base):
    """A user's Google connection: the refresh token (encrypted) and what it grants."""

    __tablename__ = "google_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    google_email: Mapped[str] = mapped_column(String(320), default="")
    refresh_token: Mapped[str] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text)
    expiry: Mapped[datetime | None] = mapped_column()
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="connected")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
