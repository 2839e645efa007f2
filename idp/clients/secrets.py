"""Client secrets: 256 random bits, shown once, stored as a sealed hash that can move to a new secret key.

A client secret is a random 256-bit value, not a password a person chose, so a slow hash (bcrypt) buys
nothing against guessing and would cap the token endpoint at a few hundred requests per core. The stored
value is the SHA-256 of the secret sealed (AES-256-GCM) under the secret key (:mod:`idp.secret_keys`):
``aead$<key id>.<base64url>``. A database dump alone neither reveals a secret nor lets anyone test guesses
offline (the hash is encrypted); with the key, the hash of 256 random bits is still no way back to the secret.
Checking opens the value with the key it names and compares the hashes in constant time: one AES-GCM
decryption, a few microseconds.

Unlike a keyed hash (HMAC), a sealed hash can be moved to a new key without the secret:
``idp secrets rekey`` opens it with the previous key and seals it again under the current one.

Hashes of the first format, ``hmac-sha256$<hex>`` (HMAC-SHA-256 under a key derived from the secret key),
cannot be moved so: they are still accepted under every accepted key, and replaced by the current format
when the client next authenticates while a rotation is under way (previous keys set: by then every instance
runs a version that reads it). ``idp secrets rekey`` lists the clients still in that format; each needs one
authentication before the old key is dropped, or a new secret (``idp clients rotate-secret``).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from idp.secret_keys import SecretKeys, Unreadable

#: 32 random bytes → 43 URL-safe characters.
SECRET_BYTES = 32
#: Stored hashes carry their scheme: the current one, and the first one (still read, never written).
SCHEME = "aead"
LEGACY_SCHEME = "hmac-sha256"
#: The purpose the hashes are sealed for (their AES key and additional data).
PURPOSE = "idp/client-secret/v2"
_LEGACY_CONTEXT = b"idp.clients.secret.v1"


def generate_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def hash_secret(secret: str, keys: SecretKeys) -> str:
    """The value stored for ``secret``: its SHA-256 sealed under the current key."""
    return f"{SCHEME}${keys.seal(PURPOSE, _digest(secret))}"


@functools.lru_cache(maxsize=8)
def _legacy_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), _LEGACY_CONTEXT, hashlib.sha256).digest()


def legacy_hash(secret: str, secret_key: str) -> str:
    """A hash of the first format (HMAC-SHA-256 under a key derived from ``secret_key``): read, never
    written."""
    digest = hmac.new(_legacy_key(secret_key), secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{LEGACY_SCHEME}${digest}"


def is_legacy(stored: str | None) -> bool:
    """Whether a stored hash is of the first format (it cannot be re-keyed without the secret)."""
    return bool(stored) and stored.startswith(LEGACY_SCHEME + "$")


def check_secret(secret: str | None, stored: str | None, keys: SecretKeys) -> bool:
    """True if ``secret`` is the one ``stored`` was made from under an accepted key; compared in constant
    time, False for anything missing or unreadable."""
    if not secret or not stored or not isinstance(secret, str) or len(secret) > 512:
        return False
    scheme, _, value = stored.partition("$")
    if scheme == SCHEME:
        try:
            expected = keys.open(PURPOSE, value)
        except Unreadable:
            return False
        return hmac.compare_digest(expected, _digest(secret))
    if scheme == LEGACY_SCHEME:
        # No key id in this format: every accepted key is tried, all of them every time.
        matches = [hmac.compare_digest(legacy_hash(secret, key), stored) for key in keys.accepted]
        return any(matches)
    return False


def upgraded(secret: str, stored: str, keys: SecretKeys) -> str | None:
    """After ``secret`` was checked against ``stored``: the value to store instead — the current format, for
    a hash of the first format while a rotation is under way (see the module's documentation) — or None."""
    if keys.rotating and is_legacy(stored):
        return hash_secret(secret, keys)
    return None


def rekeyed(stored: str, keys: SecretKeys) -> str:
    """A hash of the current format sealed again under the current key (itself if it already is);
    :class:`~idp.secret_keys.Unreadable` if no accepted key opens it, ``ValueError`` for the first format."""
    scheme, _, value = stored.partition("$")
    if scheme != SCHEME:
        raise ValueError("a hash of the first format cannot be re-keyed without the secret")
    return f"{SCHEME}${keys.reseal(PURPOSE, value)}"
