"""The key store: signing keys loaded once into memory, the JWKS (RFC 7517 §5) built from them.

The newest key whose ``activates_at`` has come signs; every key not yet retired is published, including
a key that is not yet active. Instances that share the keys directory re-read it when its listing
changes, looked at no more often than ``IDP_KEYS_RELOAD_INTERVAL`` seconds, so every instance converges
on the same JWKS (see ``keys/README.md``).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from joserfc.jwk import KeySet

from idp.clock import Clock
from idp.keys import files
from idp.keys.files import KeyRecord

log = logging.getLogger(__name__)


class NoSigningKey(RuntimeError):
    """There is no usable signing key; production never makes one on its own (run ``idp init``)."""


class KeyStore:
    def __init__(self, folder: str | Path, *, clock: Clock, reload_interval: int = 30,
                 create_if_missing: bool = False):
        self.folder = Path(folder)
        self.clock = clock
        self.reload_interval = reload_interval
        #: Development convenience: make the first key on demand instead of failing.
        self.create_if_missing = create_if_missing
        self._lock = threading.Lock()
        self._records: tuple[KeyRecord, ...] = ()
        self._stamp: int | None = None
        self._checked = 0.0
        self._cache: dict = {}
        self.reload()

    # -- reading ------------------------------------------------------------------------------------

    def records(self) -> tuple[KeyRecord, ...]:
        self._maybe_reload()
        return self._records

    def signing_key(self) -> KeyRecord:
        """The key that signs now: the newest active, unretired one."""
        now = self.clock.now()
        for record in reversed(self.records()):
            if record.signs_at(now):
                return record
        if self.create_if_missing:
            with self._lock:
                if not any(r.signs_at(now) for r in self._records):
                    document = files.generate(now, serial=files.next_serial(self._records))
                    path = files.write_new(self.folder, document)
                    log.warning("no signing key in %s: created %s (development only; use `idp init`)",
                                self.folder, path.name)
                    self._reload_locked()
            return self.signing_key()
        raise NoSigningKey(f"no active signing key in {self.folder} (IDP_KEYS_DIR): run `idp init` "
                           f"or `idp keys rotate`")

    def published(self) -> list[KeyRecord]:
        now = self.clock.now()
        published = [r for r in self.records() if not r.retired_at(now)]
        if not published and self.create_if_missing:
            self.signing_key()  # development: the first key appears on first use, JWKS included
            published = [r for r in self.records() if not r.retired_at(now)]
        return published

    def jwks(self) -> dict:
        """``{"keys": [...]}`` of every published public key, newest first."""
        return {"keys": [r.public_jwk() for r in reversed(self.published())]}

    def jwks_json(self) -> bytes:
        """The JWKS document, serialised once per change of the key set (the endpoint is hot)."""
        kids = tuple(r.kid for r in self.published())
        cached = self._cache.get("jwks")
        if cached is None or cached[0] != kids:
            cached = (kids, json.dumps(self.jwks(), separators=(",", ":")).encode("ascii"))
            self._cache["jwks"] = cached
        return cached[1]

    def public_keyset(self) -> KeySet:
        """The published keys as a joserfc KeySet, to verify our own tokens (``id_token_hint``)."""
        kids = tuple(r.kid for r in self.published())
        cached = self._cache.get("keyset")
        if cached is None or cached[0] != kids:
            keys = self.jwks()["keys"]
            cached = (kids, KeySet.import_key_set({"keys": keys}) if keys else KeySet([]))
            self._cache["keyset"] = cached
        return cached[1]

    # -- loading ------------------------------------------------------------------------------------

    def reload(self) -> None:
        with self._lock:
            self._reload_locked()

    def _reload_locked(self) -> None:
        self._records = tuple(files.scan(self.folder))
        self._stamp = self._listing_stamp()
        self._checked = time.monotonic()
        self._cache = {}

    def _maybe_reload(self) -> None:
        if time.monotonic() - self._checked < self.reload_interval:
            return
        self._checked = time.monotonic()
        if self._listing_stamp() != self._stamp:
            log.info("keys directory %s changed: reloading signing keys", self.folder)
            self.reload()

    def _listing_stamp(self) -> int | None:
        # Adding a file or renaming over one (rotation rewrites atomically) changes the folder's mtime.
        try:
            return os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            return None
