"""Slow, salted, peppered hashing of passwords with bcrypt.

bcrypt reads only the first 72 bytes of its input, and a Cyrillic character takes two bytes in UTF-8:
a 64-character Cyrillic password would be cut silently. So the password is first reduced to a fixed
44-byte string and that is given to bcrypt: every character counts, and no input has a NUL byte.

That pre-hash is keyed: base64 of HMAC-SHA-256 under the *pepper* (``IDP_PASSWORD_PEPPER``, the same on
every instance, never stored in the database). Were it a plain SHA-256, as it once was (passlib's
``bcrypt_sha256`` construction), a leak elsewhere of unsalted SHA-256 hashes would let an attacker holding
our database test each of those hashes against our bcrypt hashes as if it were the password ("hash
shucking"), learning which customers reuse a leaked password without cracking anything. Keyed, the
pre-hash of a password is unknown to anyone without the pepper, so no hash computed elsewhere fits.

Stored formats, told apart by their prefix:

- ``$idp-hmac1$`` + a bcrypt string (``$2b$…``): the current one, bcrypt over base64(HMAC-SHA-256(pepper,
  password)). ``1`` is the format version; a later format (another pepper, another construction) takes a
  new prefix beside it, and old hashes keep verifying until their owner next signs in.
- a bare bcrypt string (``$2b$…``): legacy, bcrypt over base64(SHA-256(password)). Still verified;
  :meth:`PasswordHasher.needs_upgrade` says so, and a successful sign-in rewrites it in the current format.

Before any of that the password is put in Unicode normal form C: «й» or «ё» arrive as one code point from
one keyboard and as a letter plus a combining mark from another, and a customer typing the same password
on a phone and on a computer must be let in on both.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import unicodedata

import bcrypt

#: The prefix of the current format: bcrypt over the HMAC-SHA-256 pre-hash under the pepper.
PREFIX = "$idp-hmac1$"


def _normalised(password: str) -> bytes:
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _legacy_prehash(password: str) -> bytes:
    """The pre-hash of bare bcrypt strings: plain SHA-256, the same everywhere (so open to shucking)."""
    return base64.b64encode(hashlib.sha256(_normalised(password)).digest())


class PasswordHasher:
    """bcrypt at a configured cost over a peppered pre-hash; ``verify`` with no stored hash spends the same
    time and says no."""

    def __init__(self, rounds: int, pepper: str | bytes):
        if not pepper:
            raise ValueError("a password hasher needs a pepper")
        self.rounds = rounds
        self._pepper = pepper.encode("utf-8") if isinstance(pepper, str) else bytes(pepper)

    def __repr__(self) -> str:  # never the pepper
        return f"PasswordHasher(rounds={self.rounds})"

    def _prehash(self, password: str) -> bytes:
        return base64.b64encode(hmac.new(self._pepper, _normalised(password), hashlib.sha256).digest())

    def hash(self, password: str) -> str:
        return PREFIX + bcrypt.hashpw(self._prehash(password), bcrypt.gensalt(self.rounds)).decode("ascii")

    def verify(self, password: str, hashed: str | None) -> bool:
        if not hashed:
            return self.burn(password)
        if hashed.startswith(PREFIX):
            prehash, stored = self._prehash(password), hashed[len(PREFIX):]
        elif hashed.startswith("$2"):
            prehash, stored = _legacy_prehash(password), hashed
        else:  # an unknown format is a failed check, not a crash
            return False
        try:
            return bcrypt.checkpw(prehash, stored.encode("ascii"))
        except ValueError:  # a malformed stored hash is a failed check, not a crash
            return False

    def needs_upgrade(self, hashed: str | None) -> bool:
        """Whether ``hashed`` is a verifiable hash in an older format, to be rewritten by :meth:`hash` once
        the password has just been verified against it."""
        return bool(hashed) and not hashed.startswith(PREFIX) and hashed.startswith("$2")

    def burn(self, password: str) -> bool:
        """The work of one check against nothing, so an unknown login costs what a known one does: the same
        pre-hash and one bcrypt check at the same cost."""
        bcrypt.checkpw(self._prehash(password), _dummy_hash(self.rounds))
        return False


@functools.lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"dummy-password-for-constant-time", bcrypt.gensalt(rounds))
