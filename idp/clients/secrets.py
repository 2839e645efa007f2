"""Client secrets: 256 random bits, shown once, stored as a keyed hash (HMAC-SHA256).

A client secret is a random 256-bit value, not a password a person chose, so a slow hash (bcrypt) buys
nothing against guessing and would cap the token endpoint at a few hundred requests per core. The
stored value is HMAC-SHA256 keyed with a key derived from ``IDP_SECRET_KEY``: a database dump alone
neither reveals a secret nor lets anyone test guesses offline. Comparison is in constant time.

Consequence for operators: changing ``IDP_SECRET_KEY`` invalidates every client secret (rotate them
with ``idp clients rotate-secret``); all instances must share the same ``IDP_SECRET_KEY``.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

#: 32 random bytes → 43 URL-safe characters.
SECRET_BYTES = 32
#: Stored hashes carry their scheme, so a future change of construction can coexist with old rows.
SCHEME = "hmac-sha256"
_CONTEXT = b"idp.clients.secret.v1"


def generate_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


@functools.lru_cache(maxsize=4)
def _derived_key(secret_key: str) -> bytes:
    # A key of its own, so the session-signing key is never used directly for another purpose.
    return hmac.new(secret_key.encode("utf-8"), _CONTEXT, hashlib.sha256).digest()


def hash_secret(secret: str, secret_key: str) -> str:
    digest = hmac.new(_derived_key(secret_key), secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{SCHEME}${digest}"


def check_secret(secret: str | None, stored: str | None, secret_key: str) -> bool:
    """True if ``secret`` hashes to ``stored``; compared in constant time, False for anything missing."""
    if not secret or not stored or not isinstance(secret, str) or len(secret) > 512:
        return False
    return hmac.compare_digest(hash_secret(secret, secret_key), stored)
