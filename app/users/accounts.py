"""User accounts: add, disable, change a password, list, and check a sign-in.

Changes take the caller's unit of work and record their `admin.users.*` audit event in
it, so a change and its record commit together. A user's `subject` (the `sub` of their
tokens) is random and never the username: usernames change hands, subjects never do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy import exc as sa_exc

from app.audit.admin import admin_event
from app.audit.events import record
from app.errors import TokenIdpError
from app.storage import UnitOfWork
from app.storage.schema import users
from app.users.passwords import check_password, hash_password, spend_equal_work

MAX_USERNAME_LENGTH = 200  # users.username


class UserError(TokenIdpError):
    """A change to a user that cannot be made (unknown, taken, …)."""


@dataclass(frozen=True)
class User:
    """An account as sign-in and tokens see it; never its password hash."""

    username: str
    subject: str
    name: str | None
    email: str | None
    email_verified: bool
    created_at: int
    password_changed_at: int
    disabled_at: int | None

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @classmethod
    def from_row(cls, row: Row[Any]) -> User:
        return cls(
            username=row.username,
            subject=row.subject,
            name=row.name,
            email=row.email,
            email_verified=bool(row.email_verified),
            created_at=row.created_at,
            password_changed_at=row.password_changed_at,
            disabled_at=row.disabled_at,
        )


def new_subject() -> str:
    """128 random bits, URL-safe: a `sub` that says nothing about the person."""
    return secrets.token_urlsafe(16)


def add_user(
    work: UnitOfWork,
    username: str,
    *,
    password: str,
    name: str | None,
    email: str | None,
    reason: str | None,
    now: int,
) -> User:
    """Create the account with a fresh random subject."""
    if _find_row(work.connection, username) is not None:
        raise UserError(f"user {username!r} already exists")
    values = {
        "username": username,
        "subject": new_subject(),
        "password_hash": hash_password(password),
        "name": name,
        "email": email,
        "email_verified": False,
        "created_at": now,
        "password_changed_at": now,
    }
    try:
        work.execute(insert(users), values)
    except sa_exc.IntegrityError:  # added meanwhile by another command
        raise UserError(f"user {username!r} already exists") from None
    record(
        work,
        admin_event(
            "users.add", reason=reason, subject=values["subject"], detail={"username": username}
        ),
    )
    return User.from_row(_get_row(work.connection, username))


def disable_user(work: UnitOfWork, username: str, *, reason: str | None, now: int) -> int | None:
    """Disable from `now`: sign-in and existing sessions stop working. Returns when it was
    disabled already (nothing done)."""
    row = _get_row(work.connection, username, lock=True)
    if row.disabled_at is not None:
        return row.disabled_at
    work.execute(update(users).where(users.c.id == row.id).values(disabled_at=now))
    record(
        work,
        admin_event(
            "users.disable", reason=reason, subject=row.subject, detail={"username": username}
        ),
    )
    return None


def set_password(
    work: UnitOfWork, username: str, *, password: str, reason: str | None, now: int
) -> None:
    """Replace the password; sessions that signed in before now end."""
    row = _get_row(work.connection, username, lock=True)
    work.execute(
        update(users)
        .where(users.c.id == row.id)
        .values(password_hash=hash_password(password), password_changed_at=now)
    )
    record(
        work,
        admin_event(
            "users.set_password",
            reason=reason,
            subject=row.subject,
            detail={"username": username},
        ),
    )


def list_users(connection: Connection) -> list[User]:
    """Every user, by username."""
    return [
        User.from_row(row) for row in connection.execute(select(users).order_by(users.c.username))
    ]


def find_user_by_subject(connection: Connection, subject: str) -> User | None:
    """The user a token's or session's `sub` names, or None (userinfo, sessions)."""
    row = connection.execute(select(users).where(users.c.subject == subject)).first()
    return None if row is None else User.from_row(row)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user when it succeeded, else why not (for the audit log
    only: the person is told the same thing whatever the reason)."""

    user: User | None
    failure: str | None = None  # unknown_user, disabled, wrong_password
    new_password_hash: str | None = field(default=None, repr=False)  # parameters changed
    old_password_hash: str | None = field(default=None, repr=False)


def check_sign_in(connection: Connection, username: str, password: str) -> SignIn:
    """Check a username and password. Every failure costs one argon2 verification, so an
    unknown or disabled user cannot be told from a wrong password by timing. The caller
    stores `new_password_hash` (`store_rehash`) when the hash's parameters are older."""
    row = _find_row(connection, username) if username else None
    if row is None:
        spend_equal_work()
        return SignIn(None, "unknown_user")
    if row.disabled_at is not None:
        spend_equal_work()
        return SignIn(None, "disabled")
    check = check_password(row.password_hash, password)
    if not check.matches:
        return SignIn(None, "wrong_password")
    if check.needs_rehash:
        return SignIn(User.from_row(row), None, hash_password(password), row.password_hash)
    return SignIn(User.from_row(row))


def store_rehash(work: UnitOfWork, sign_in: SignIn) -> None:
    """Replace a hash made with older parameters, unless the password changed meanwhile."""
    if sign_in.user is None or sign_in.new_password_hash is None:
        return
    work.execute(
        update(users)
        .where(
            users.c.subject == sign_in.user.subject,
            users.c.password_hash == sign_in.old_password_hash,
        )
        .values(password_hash=sign_in.new_password_hash)
    )


def _find_row(connection: Connection, username: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(users).where(users.c.username == username)
    if lock:
        query = query.with_for_update()
    return connection.execute(query).first()


def _get_row(connection: Connection, username: str, *, lock: bool = False) -> Row[Any]:
    row = _find_row(connection, username, lock=lock)
    if row is None:
        raise UserError(f"no user {username!r} (tokenidp users list)")
    return row
