"""Sealing message parameters at rest: AES-256-GCM under a key derived from ``IDP_SECRET_KEY``.

A queued message may carry a temporary password until it is sent. Sealing keeps it unreadable in a
database dump or backup; once sent, the sealed payload is erased altogether.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_CONTEXT = b"idp/delivery-payload/v1"


class SealError(Exception):
    """The payload cannot be opened (another secret key, or tampered with)."""


class Sealer:
    def __init__(self, secret_key: str):
        self._aead = AESGCM(hashlib.sha256(_CONTEXT + secret_key.encode("utf-8")).digest())

    def seal(self, params: dict) -> str:
        nonce = os.urandom(12)
        data = json.dumps(params, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, data, _CONTEXT)).decode("ascii")

    def open(self, sealed: str) -> dict:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
            return json.loads(self._aead.decrypt(raw[:12], raw[12:], _CONTEXT))
        except (InvalidTag, ValueError) as exc:
            raise SealError("the message payload cannot be opened with this IDP_SECRET_KEY") from exc
