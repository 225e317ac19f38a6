"""Password hashing (Argon2id, argon2-cffi's defaults): pure computation, no I/O, so the API's
authenticator, the console and the `tidings accounts` command share it from the core."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["DUMMY_HASH", "hash_password", "verify_password"]

_hasher = PasswordHasher()
# An Argon2id hash of a random password, thrown away, with the hasher's parameters: an unknown
# username is checked against it at the cost of a real check (and fails whatever the outcome). A
# unit test keeps the parameters equal to the hasher's.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$0aPdO3YlA/Fm/fexPT4ElA$Zbk8sPi4acEKgs3MUuXj9Tnd5tkRlGMEOi+mZnuDawQ"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
