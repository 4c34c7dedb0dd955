"""Password hashing with argon2id (RFC 9106), parameters written out rather than inherited.

OWASP's Password Storage Cheat Sheet (first argon2id line): 19 MiB of memory, 2 passes,
one lane. About 25 ms a hash here; the memory bound matters more than the time, because
every concurrent sign-in holds its 19 MiB while it runs. A hash carries its own
parameters, so raising them later is safe: `needs_rehash` says when a stored hash is older
and the next successful sign-in stores a new one.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
HASH_LENGTH = 32
SALT_LENGTH = 16
MAX_PASSWORD_LENGTH = 1024  # longer is refused before hashing: no megabyte-long passwords

HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LENGTH,
    salt_len=SALT_LENGTH,
    type=Type.ID,
)


@dataclass(frozen=True)
class PasswordCheck:
    """Whether the password matched, and whether its stored hash should be replaced."""

    matches: bool
    needs_rehash: bool = False


def hash_password(password: str) -> str:
    """An argon2id PHC string with a random salt and this module's parameters."""
    return HASHER.hash(password)


def check_password(stored_hash: str, password: str) -> PasswordCheck:
    """Compare in argon2's own constant-time way; a malformed stored hash never matches."""
    if len(password) > MAX_PASSWORD_LENGTH:
        spend_equal_work()
        return PasswordCheck(False)
    try:
        HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(False)
    return PasswordCheck(True, HASHER.check_needs_rehash(stored_hash))


def spend_equal_work() -> None:
    """Verify against a dummy hash: an unknown or disabled user costs what a wrong password
    costs, so the time of an answer does not say whether the account exists."""
    try:
        HASHER.verify(_dummy_hash(), secrets.token_urlsafe(16))
    except VerificationError:
        pass


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))
