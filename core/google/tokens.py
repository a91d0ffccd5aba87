"""Encrypted storage of Google tokens: a Fernet cipher with key rotation and the ``google_tokens`` table."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.db.database import Database
from core.db.models import utcnow
from core.db.models_identity import GoogleToken

CONNECTED = "connected"
BROKEN = "broken"


class TokenDecryptError(Exception):
    """A stored secret was encrypted with a key that is neither SECRET_KEY nor one of SECRET_KEY_OLD."""


def _fernet_key(secret: str) -> bytes:
    # Any string can be a SECRET_KEY; HKDF turns it into the 32 bytes Fernet wants.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"captainslog google tokens v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class TokenCipher:
    """Encrypts with ``secret_key``; decrypts with it or any of ``old_keys`` (rotation)."""

    def __init__(self, secret_key: str, old_keys: Sequence[str] = ()) -> None:
        if not secret_key:
            raise ValueError("SECRET_KEY is empty: set it to a long random string to store Google tokens")
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in (secret_key, *old_keys) if k])

    def encrypt(self, plaintext: str) -> str:
        """The Fernet token (ASCII) of ``plaintext`` under the current key."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext; raises :class:`TokenDecryptError` when no known key opens it."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenDecryptError(
                "a stored Google token cannot be decrypted with SECRET_KEY or SECRET_KEY_OLD"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the current key (for a rotation pass)."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise TokenDecryptError(
                "a stored Google token cannot be decrypted with SECRET_KEY or SECRET_KEY_OLD"
            ) from None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A user's Google connection, decrypted."""

    user_id: int
    refresh_token: str
    access_token: str | None
    expiry: datetime | None  # aware UTC
    scopes: tuple[str, ...]
    status: str
    google_email: str

    @property
    def broken(self) -> bool:
        return self.status == BROKEN


class GoogleTokenStore:
    """Reads and writes ``google_tokens``; every token is encrypted before it reaches the database."""

    def __init__(self, db: Database, cipher: TokenCipher, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock

    async def save(
        self,
        user_id: int,
        *,
        refresh_token: str,
        access_token: str | None,
        expiry: datetime | None,
        scopes: Sequence[str],
        google_email: str = "",
    ) -> None:
        """Store (or replace) the user's connection, marked connected."""
        values = {
            "user_id": user_id,
            "refresh_token": self.cipher.encrypt(refresh_token),
            "access_token": self.cipher.encrypt(access_token) if access_token else None,
            "expiry": expiry,
            "scopes": sorted(set(scopes)),
            "status": CONNECTED,
            "google_email": google_email,
            "updated_at": self.clock(),
        }
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        stmt = insert(GoogleToken).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[GoogleToken.user_id], set_={k: v for k, v in values.items() if k != "user_id"}
        )
        async with self.db.session() as session, session.begin():
            await session.execute(stmt)

    async def load(self, user_id: int) -> StoredToken | None:
        """The user's connection, or None when they never connected (or disconnected)."""
        async with self.db.session() as session:
            row = (
                await session.execute(select(GoogleToken).where(GoogleToken.user_id == user_id))
            ).scalar_one_or_none()
        if row is None:
            return None
        return StoredToken(
            user_id=row.user_id,
            refresh_token=self.cipher.decrypt(row.refresh_token),
            access_token=self.cipher.decrypt(row.access_token) if row.access_token else None,
            expiry=row.expiry,
            scopes=tuple(row.scopes or ()),
            status=row.status,
            google_email=row.google_email,
        )

    async def update_access(self, user_id: int, access_token: str, expiry: datetime | None) -> None:
        """Keep a refreshed access token (encrypted) and its expiry."""
        await self._update(user_id, access_token=self.cipher.encrypt(access_token), expiry=expiry)

    async def mark_broken(self, user_id: int) -> None:
        """Google refused the refresh token: the user must connect again."""
        await self._update(user_id, status=BROKEN, access_token=None, expiry=None)

    async def delete(self, user_id: int) -> bool:
        """Forget the connection; True when there was one."""
        async with self.db.session() as session, session.begin():
            result = await session.execute(delete(GoogleToken).where(GoogleToken.user_id == user_id))
        return bool(result.rowcount)

    async def rotate_all(self) -> tuple[int, int]:
        """Re-encrypt every stored token under the current SECRET_KEY (after a key rotation).

        Returns (re-encrypted, unreadable): a row no known key opens is left as it is (its user
        is asked to connect again when it is next used)."""
        done = unreadable = 0
        async with self.db.session() as session, session.begin():
            rows = (await session.execute(select(GoogleToken))).scalars().all()
            for row in rows:
                try:
                    refresh = self.cipher.rotate(row.refresh_token)
                    access = self.cipher.rotate(row.access_token) if row.access_token else row.access_token
                except TokenDecryptError:
                    unreadable += 1
                    continue
                row.refresh_token, row.access_token = refresh, access
                done += 1
        return done, unreadable

    async def _update(self, user_id: int, **values: object) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(GoogleToken).where(GoogleToken.user_id == user_id).values(**values, updated_at=self.clock())
            )
