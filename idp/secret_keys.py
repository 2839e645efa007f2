"""The provider's secret keys: ``IDP_SECRET_KEY``, which signs and seals everything new, and the keys still
accepted for verification, ``IDP_PREVIOUS_SECRET_KEYS`` — so the key can be rotated without downtime.

One :class:`SecretKeys` value (``settings.secret_keys``) is passed to everything that signs or seals:

* **signatures** made with :mod:`itsdangerous` (the session cookie, CSRF tokens, the re-authentication
  marker) carry no key id: :attr:`SecretKeys.signing_keys` is the list itsdangerous takes — it signs with
  the last (the current key) and verifies with each, the current one first;
* **sealed values** (AES-256-GCM, :meth:`SecretKeys.seal`: queued messages, reset requests, client-secret
  hashes) start with the *key id* of the key that sealed them (:func:`key_id`, 8 hex digits of an HMAC of the
  key: it tells nothing about the key), so opening one picks its key directly, and ``idp secrets rekey``
  (:mod:`idp.rekey`) finds what is still under an old key and seals it again under the current one.

Each purpose has its own AES key, derived from the secret key with HMAC-SHA-256 and the purpose's name,
which is also the additional data of every seal: a value sealed for one purpose does not open as another.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_ID_CONTEXT = b"idp/key-id/v1"
_AEAD_CONTEXT = b"idp/aead/v1/"
_NONCE = 12
#: Separates the key id from the sealed bytes; never in URL-safe base64, so older formats are told apart.
SEPARATOR = "."


class Unreadable(Exception):
    """A sealed value that no accepted key opens: sealed under a key no longer accepted, or tampered with."""


def key_id(key: str) -> str:
    """The id of a secret key as sealed values carry it: 8 hex digits of HMAC-SHA-256(key, a constant)."""
    return hmac.new(key.encode("utf-8"), _KEY_ID_CONTEXT, hashlib.sha256).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, eq=False)
class SecretKeys:
    """The current secret key and the previous ones still accepted (newest first). Never in a repr or log."""

    current: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)
    _by_id: dict = field(init=False, repr=False)
    _boxes: dict = field(init=False, repr=False)

    def __post_init__(self):
        by_id: dict[str, str] = {}
        for key in (self.current, *self.previous):
            kid = key_id(key)
            if kid in by_id:
                raise ValueError("two accepted secret keys are the same (or share a key id)")
            by_id[kid] = key
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_boxes", {})  # (purpose, key id) → AESGCM, made on first use

    def __repr__(self) -> str:
        return f"SecretKeys(current={self.current_id}, previous={list(self.previous_ids)})"

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def previous_ids(self) -> tuple[str, ...]:
        return tuple(key_id(key) for key in self.previous)

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every accepted key, the current one first."""
        return (self.current, *self.previous)

    @property
    def rotating(self) -> bool:
        """Whether keys other than the current one are accepted (a rotation is under way)."""
        return bool(self.previous)

    @property
    def signing_keys(self) -> list[str]:
        """The keys as itsdangerous (and Flask's ``SECRET_KEY_FALLBACKS`` + ``SECRET_KEY``) take them: the
        last one signs, and verification tries them from the last, so the current key first."""
        return [*reversed(self.previous), self.current]

    # -- sealing ----------------------------------------------------------------------------------------

    def _box(self, purpose: str, kid: str) -> AESGCM:
        box = self._boxes.get((purpose, kid))
        if box is None:
            key = self._by_id[kid].encode("utf-8")
            box = self._boxes[(purpose, kid)] = AESGCM(
                hmac.new(key, _AEAD_CONTEXT + purpose.encode("utf-8"), hashlib.sha256).digest())
        return box

    def seal(self, purpose: str, data: bytes) -> str:
        """``data`` encrypted and authenticated under the current key: ``<key id>.<base64url>``."""
        kid = self.current_id
        nonce = os.urandom(_NONCE)
        sealed = self._box(purpose, kid).encrypt(nonce, data, purpose.encode("utf-8"))
        return kid + SEPARATOR + _b64(nonce + sealed)

    def open(self, purpose: str, value: str) -> bytes:
        """The data of a value :meth:`seal` made for ``purpose`` under any accepted key; :class:`Unreadable`
        otherwise. The key is the one the value names, never a guess."""
        kid, separator, body = value.partition(SEPARATOR)
        if not separator or kid not in self._by_id:
            raise Unreadable(f"sealed under key id {kid[:8]!r}, which is not an accepted secret key"
                             if separator else "not a sealed value")
        try:
            raw = _unb64(body)
            return self._box(purpose, kid).decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode("utf-8"))
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise Unreadable(f"cannot be opened with the key it names ({kid})") from exc

    def is_current(self, value: str) -> bool:
        """Whether a sealed value names the current key (it needs no re-keying)."""
        return sealed_key_id(value) == self.current_id

    def reseal(self, purpose: str, value: str) -> str:
        """``value`` sealed again under the current key (itself if it already is); :class:`Unreadable`."""
        if self.is_current(value):
            return value
        return self.seal(purpose, self.open(purpose, value))


def sealed_key_id(value: str) -> str | None:
    """The key id a sealed value names; None for a value of an older format (no key id)."""
    kid, separator, _ = value.partition(SEPARATOR)
    return kid if separator else None
