"""Server-side storage for what must not travel in the browser's cookie: tokens and login state.

The browser's session cookie only carries a random key; access, refresh and ID tokens, the PKCE
code_verifier and the nonce stay in this process. One process is enough for a demo; a portal run by
several processes would put the same three methods in front of Redis or a database.
"""
from __future__ import annotations

import secrets
import threading
import time


class MemoryStore:
    """A dict with expiry and a lock; also serves as Authlib's ``cache`` (``get``/``set``/``delete``)."""

    def __init__(self, clock=time.time):
        self._items: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if expires <= self._clock():
                del self._items[key]
                return None
            return value

    def set(self, key: str, value, expires_in: float) -> None:
        with self._lock:
            now = self._clock()
            self._items[key] = (now + expires_in, value)
            if len(self._items) % 256 == 0:
                self._sweep(now)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._items.items() if expires <= now]:
            del self._items[key]


class SignIns:
    """Who is signed in to the portal: one record (tokens, claims) per browser, under a random key."""

    PREFIX = "signin:"

    def __init__(self, store: MemoryStore, lifetime: float):
        self._store = store
        self._lifetime = lifetime

    def add(self, record: dict) -> str:
        key = secrets.token_urlsafe(32)
        self._store.set(self.PREFIX + key, record, self._lifetime)
        return key

    def get(self, key: str | None) -> dict | None:
        return self._store.get(self.PREFIX + key) if isinstance(key, str) and key else None

    def replace(self, key: str, record: dict) -> None:
        self._store.set(self.PREFIX + key, record, self._lifetime)

    def remove(self, key: str | None) -> dict | None:
        record = self.get(key)
        if record is not None:
            self._store.delete(self.PREFIX + key)
        return record
