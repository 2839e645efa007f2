"""Sealing message parameters at rest: AES-256-GCM under the secret key (:mod:`idp.secret_keys`).

A queued message may carry a temporary password until it is sent. Sealing keeps it unreadable in a
database dump or backup; once sent, the sealed payload is erased altogether.

A sealed payload names the key that sealed it (``<key id>.<base64url>``), so a payload sealed under a
previous key (``IDP_PREVIOUS_SECRET_KEYS``) still opens while a rotation is under way, and ``idp secrets
rekey`` seals it again under the current key. Payloads of the first format (bare base64, no key id, sealed
before keys could be rotated) are opened with each accepted key in turn; ``rekey`` rewrites them too.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.secret_keys import SecretKeys, Unreadable, sealed_key_id

#: The purpose of message payloads (their AES key and additional data, :meth:`SecretKeys.seal`).
PURPOSE = "idp/delivery-payload/v2"
_LEGACY_CONTEXT = b"idp/delivery-payload/v1"


class SealError(Exception):
    """The payload cannot be opened (sealed under a key no longer accepted, or tampered with)."""


class Sealer:
    """Seals message parameters (a JSON object) under the current key; opens them under any accepted key."""

    def __init__(self, keys: SecretKeys):
        self.keys = keys

    def seal(self, params: dict) -> str:
        data = json.dumps(params, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return self.keys.seal(PURPOSE, data)

    def open(self, sealed: str) -> dict:
        try:
            if sealed_key_id(sealed):
                return json.loads(self.keys.open(PURPOSE, sealed))
            return json.loads(_open_legacy(self.keys, sealed))
        except (Unreadable, ValueError) as exc:
            raise SealError("the message payload cannot be opened with IDP_SECRET_KEY or "
                            f"IDP_PREVIOUS_SECRET_KEYS: {exc}") from exc

    def reseal(self, sealed: str) -> str:
        """``sealed`` under the current key (itself if it already is); :class:`SealError` if unreadable."""
        if self.keys.is_current(sealed):
            return sealed
        return self.seal(self.open(sealed))


def _open_legacy(keys: SecretKeys, sealed: str) -> bytes:
    """A payload of the first format: AES-256-GCM under SHA-256(context + key), no key id: each key tried."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
    except (ValueError, binascii.Error) as exc:
        raise Unreadable("not a sealed value") from exc
    for key in keys.accepted:
        aead = AESGCM(hashlib.sha256(_LEGACY_CONTEXT + key.encode("utf-8")).digest())
        try:
            return aead.decrypt(raw[:12], raw[12:], _LEGACY_CONTEXT)
        except (InvalidTag, ValueError):
            continue
    raise Unreadable("sealed (without a key id) under none of the accepted keys")
