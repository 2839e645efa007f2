"""Slow, salted hashing of passwords with bcrypt.

bcrypt reads only the first 72 bytes of its input, and a Cyrillic character takes two bytes in UTF-8:
a 64-character Cyrillic password would be cut silently. So the password is first reduced to a fixed
44-byte string (base64 of its SHA-256) and that is given to bcrypt: every character counts, and no input
has a NUL byte. The same construction as passlib's ``bcrypt_sha256``.

Before that the password is put in Unicode normal form C: «й» or «ё» arrive as one code point from one
keyboard and as a letter plus a combining mark from another, and a customer typing the same password on
a phone and on a computer must be let in on both.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import unicodedata

import bcrypt


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(unicodedata.normalize("NFC", password).encode("utf-8")).digest())


class PasswordHasher:
    """bcrypt at a configured cost; ``verify`` with no stored hash spends the same time and says no."""

    def __init__(self, rounds: int):
        self.rounds = rounds

    def hash(self, password: str) -> str:
        return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(self.rounds)).decode("ascii")

    def verify(self, password: str, hashed: str | None) -> bool:
        if not hashed:
            return self.burn(password)
        try:
            return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
        except ValueError:  # a malformed stored hash is a failed check, not a crash
            return False

    def burn(self, password: str) -> bool:
        """The work of one check against nothing, so an unknown login costs what a known one does."""
        bcrypt.checkpw(_prehash(password), _dummy_hash(self.rounds))
        return False


@functools.lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"dummy-password-for-constant-time", bcrypt.gensalt(rounds))
