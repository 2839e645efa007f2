"""Signing keys: RSA JWK files in ``IDP_KEYS_DIR``, loaded once, rotated by ``idp keys rotate``.

Public API::

    KeyStore           in-memory signing key and JWKS, reloading when the shared folder changes
    NoSigningKey       raised when nothing may sign (production without ``idp init``)
    ensure_first_key, rotate, prune, describe, retention_seconds
"""
from idp.keys.files import ALG, KeyFileError, KeyRecord
from idp.keys.rotation import (JWKS_MAX_AGE, activation_delay, describe, ensure_first_key, prune,
                               retention_seconds, rotate)
from idp.keys.store import KeyStore, NoSigningKey

__all__ = ["ALG", "JWKS_MAX_AGE", "KeyFileError", "KeyRecord", "KeyStore", "NoSigningKey", "activation_delay",
           "describe", "ensure_first_key", "prune", "retention_seconds", "rotate"]
