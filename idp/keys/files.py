"""Signing keys on disk: one RSA private JWK (RFC 7517 §4) per file, readable by the owner only.

A file ``<created>-<kid>.jwk.json`` holds one JSON object: the JWK members (``kty n e d p q dp dq qi``,
``kid`` = the RFC 7638 thumbprint, ``use: sig``, ``alg: RS256``) plus three members of this provider,
ignored by JOSE libraries:

* ``serial``       — 1, 2, 3 … in order of creation (two keys made in the same second still have an order);
* ``created_at``   — when the key was made;
* ``activates_at`` — from when it may sign (a key is published before it signs, so every instance and
  every relying party's JWKS cache can know it first);
* ``retire_after`` — empty while the key is current; set when a newer key takes over, it is the moment
  after which the public key is no longer published (every token it signed has expired by then).
"""
from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from joserfc.jwk import RSAKey

log = logging.getLogger(__name__)

SUFFIX = ".jwk.json"
ALG = "RS256"
KEY_BITS = 2048
_JWK_MEMBERS = ("kty", "n", "e", "d", "p", "q", "dp", "dq", "qi")


class KeyFileError(RuntimeError):
    """A key file cannot be read or written; the message names the file and never its contents."""


@dataclass(frozen=True)
class KeyRecord:
    """One signing key: the private key in memory, and when it signs and is published."""

    kid: str
    serial: int
    private_key: RSAKey
    created_at: datetime
    activates_at: datetime
    retire_after: datetime | None
    path: Path

    def public_jwk(self) -> dict:
        """The public JWK as JWKS publishes it (RFC 7517 §4, RFC 7518 §6.3.1)."""
        public = self.private_key.as_dict(private=False)
        return {"kty": "RSA", "use": "sig", "alg": ALG, "kid": self.kid, "n": public["n"], "e": public["e"]}

    def signs_at(self, now: datetime) -> bool:
        return self.activates_at <= now and not self.retired_at(now)

    def retired_at(self, now: datetime) -> bool:
        return self.retire_after is not None and self.retire_after <= now


def generate(now: datetime, *, serial: int, activates_at: datetime | None = None) -> dict:
    """A new RSA key as a JWK document (not yet written); ``serial`` one more than the newest key's."""
    key = RSAKey.generate_key(KEY_BITS, private=True)
    document = {member: value for member, value in key.as_dict(private=True).items()
                if member in _JWK_MEMBERS}
    document.update(kid=key.thumbprint(), use="sig", alg=ALG, serial=serial, created_at=iso(now),
                    activates_at=iso(activates_at or now), retire_after=None)
    return document


def file_name(document: dict) -> str:
    created = document["created_at"].replace("-", "").replace(":", "")
    return f"{created}-{document['kid'][:16]}{SUFFIX}"


def write_new(folder: Path, document: dict) -> Path:
    """Create the file (mode 0600, never overwriting); the folder is created 0700 if missing."""
    path = folder / file_name(document)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {path}: {exc.strerror} (IDP_KEYS_DIR={folder}: make it a "
                           f"directory the user running `idp` can write to)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    return path


def rewrite(path: Path, document: dict) -> None:
    """Replace a key file atomically (a temporary 0600 file, then rename), so readers never see half a key."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
    os.replace(temporary, path)


def read_document(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {type(exc).__name__}") from None
    if not isinstance(document, dict) or document.get("kty") != "RSA" or not document.get("kid"):
        raise KeyFileError(f"{path} is not an RSA JWK written by `idp keys`")
    return document


def load(path: Path) -> KeyRecord:
    document = read_document(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s is readable by others (mode %o); it should be 0600", path, mode & 0o777)
    try:
        key = RSAKey.import_key({m: document[m] for m in _JWK_MEMBERS})
        created_at = parse(document["created_at"])
        activates_at = parse(document.get("activates_at") or document["created_at"])
        retire_after = parse(document["retire_after"]) if document.get("retire_after") else None
        serial = int(document.get("serial", 0))
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is incomplete or damaged: {type(exc).__name__}") from None
    if not key.is_private:
        raise KeyFileError(f"{path} holds no private key")
    return KeyRecord(kid=document["kid"], serial=serial, private_key=key, created_at=created_at,
                     activates_at=activates_at, retire_after=retire_after, path=path)


def scan(folder: Path) -> list[KeyRecord]:
    """Every key in the folder, oldest first; a damaged file stops everything (never sign with a guess)."""
    if not folder.is_dir():
        return []
    records = [load(path) for path in sorted(folder.glob("*" + SUFFIX))]
    return sorted(records, key=lambda r: (r.activates_at, r.serial, r.created_at))


def next_serial(records: list[KeyRecord]) -> int:
    return max((r.serial for r in records), default=0) + 1


def iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat() + "Z"


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z"))
