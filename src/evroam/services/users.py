"""Operators' accounts and their sign-in to the back office in the browser.

Roles: `admin` (everything), `operator` (runs the network: commands to chargers, changes of
sites, drivers, tariffs; partners' syncs), `viewer` (sees everything, changes nothing).
Passwords are kept only as salted scrypt hashes. A sign-in opens a web session: a random token
(the browser's cookie; only its SHA-256 is stored) with its own CSRF token for forms. Sessions
live in the database, so every node of the platform knows them, and a removed user or a changed
password ends that user's sessions everywhere at once. Wrong passwords count against the
client's address at the `web` door of the throttle (services/throttle.py)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from evroam.model.common import utcnow
from evroam.services.audit import AuditLog
from evroam.services.errors import Invalid, NotFound, ServiceError
from evroam.services.passwords import hash_password, verify_password
from evroam.services.throttle import WEB, Throttle
from evroam.settings import Settings
from evroam.store import Store
from evroam.store.users import User, WebSession

ADMIN, OPERATOR, VIEWER = "admin", "operator", "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 256
#: a session's expiry moves forward on use, written at most this often
EXTEND_EVERY = timedelta(minutes=5)


class SignInRefused(ServiceError):
    """Wrong name or password (which one is not said), or too many failures from the address
    (`retry_after` > 0)."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the browser's cookie
    session: WebSession


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_act(role: str) -> bool:
    """Whether a role may change anything (send commands, edit)."""
    return role in (ADMIN, OPERATOR)


class UserService:
    def __init__(self, store: Store, settings: Settings, throttle: Throttle, audit: AuditLog) -> None:
        self.store = store
        self.settings = settings
        self.throttle = throttle
        self.audit = audit
        self._decoy: str | None = None  # a hash checked for unknown names (the same time as a known one)

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.web_session_hours)

    # ------------------------------------------------------------------ accounts

    @staticmethod
    def _check(name: str | None = None, role: str | None = None, password: str | None = None) -> None:
        if name is not None and not _NAME.match(name):
            raise Invalid(f"user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
                          "letter or digit")
        if role is not None and role not in ROLES:
            raise Invalid(f"role {role!r}: one of {', '.join(ROLES)}")
        if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise Invalid(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")

    async def add(self, name: str, role: str, password: str, *, actor: str = "cli") -> User:
        self._check(name, role, password)
        hashed = await asyncio.to_thread(hash_password, password)
        async with self.store.begin() as conn:
            if await self.store.users.get(conn, name) is not None:
                raise Invalid(f"user {name!r} exists already (`evroam users passwd {name}` changes the password)")
            await self.store.users.create(conn, name, role, hashed)
            user = await self.store.users.get(conn, name)
        await self.audit.record(actor, None, "user.add", name, {"role": role})
        return user

    async def list(self) -> list[User]:
        async with self.store.connect() as conn:
            return await self.store.users.list(conn)

    async def get(self, name: str) -> User:
        async with self.store.connect() as conn:
            user = await self.store.users.get(conn, name)
        if user is None:
            raise NotFound(f"no user named {name!r} (see `evroam users list`)", kind="user")
        return user

    async def remove(self, name: str, *, actor: str = "cli") -> None:
        user = await self.get(name)
        async with self.store.begin() as conn:
            await self.store.users.delete(conn, user.pk)
        await self.audit.record(actor, None, "user.remove", name, {})

    async def set_password(self, name: str, password: str, *, actor: str = "cli") -> int:
        """Change a user's password; ends their sessions (the number ended)."""
        self._check(password=password)
        user = await self.get(name)
        hashed = await asyncio.to_thread(hash_password, password)
        async with self.store.begin() as conn:
            await self.store.users.update(conn, user.pk, password_hash=hashed)
            ended = await self.store.users.close_sessions_of(conn, user.pk)
        await self.audit.record(actor, None, "user.passwd", name, {"sessions_ended": ended})
        return ended

    async def set_role(self, name: str, role: str, *, actor: str = "cli") -> None:
        self._check(role=role)
        user = await self.get(name)
        async with self.store.begin() as conn:
            await self.store.users.update(conn, user.pk, role=role)
        await self.audit.record(actor, None, "user.role", name, {"role": role, "was": user.role})

    # ------------------------------------------------------------------ signing in

    async def sign_in(self, name: str, password: str, *, address: str | None) -> SignedIn:
        wait = await self.throttle.check(WEB, address)
        if wait > 0:
            raise SignInRefused("too many failed sign-ins from your address; try again later", retry_after=wait)
        async with self.store.connect() as conn:
            user = await self.store.users.get(conn, name) if _NAME.match(name or "") else None
        if user is None:
            if self._decoy is None:
                self._decoy = await asyncio.to_thread(hash_password, secrets.token_urlsafe(16))
            await asyncio.to_thread(verify_password, password, self._decoy)
            ok = False
        else:
            ok = await asyncio.to_thread(verify_password, password, user.password_hash)
        if not ok:
            await self.throttle.failed(WEB, address)
            await self.audit.record(name[:64] or "?", None, "sign-in", None, {}, ok=False,
                                    outcome="wrong name or password", address=address)
            raise SignInRefused("wrong user name or password")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.store.begin() as conn:
            await self.store.users.prune(conn, now)
            await self.store.users.open_session(conn, user.pk, token_hash(token), csrf, address, now + self.lifetime)
            await self.store.users.update(conn, user.pk, last_sign_in_at=now)
            session = await self.store.users.session(conn, token_hash(token), now)
        await self.audit.record(user.name, user.role, "sign-in", None, {}, address=address)
        return SignedIn(token, session)

    async def session(self, token: str | None) -> WebSession | None:
        """The signed-in session of a browser's token (None: none, ended or expired). Its expiry
        moves forward as it is used."""
        if not token or len(token) > 100:
            return None
        now = utcnow()
        digest = token_hash(token)
        async with self.store.connect() as conn:
            found = await self.store.users.session(conn, digest, now)
        if found is not None and found.expires_at - now < self.lifetime - EXTEND_EVERY:
            async with self.store.begin() as conn:
                await self.store.users.extend(conn, found.pk, now + self.lifetime)
        return found

    async def sign_out(self, token: str, session: WebSession, *, address: str | None = None) -> None:
        async with self.store.begin() as conn:
            await self.store.users.close_session(conn, token_hash(token))
        await self.audit.record(session.user.name, session.user.role, "sign-out", None, {}, address=address)
