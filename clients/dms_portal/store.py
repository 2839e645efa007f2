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

    def add(self, key: str, value, expires_in: float) -> bool:
        """Set ``key`` unless it is there (and live) already; whether it was set. Atomic."""
        with self._lock:
            now = self._clock()
            item = self._items.get(key)
            if item is not None and item[0] > now:
                return False
            self._items[key] = (now + expires_in, value)
            return True

    def append(self, key: str, value, expires_in: float) -> None:
        """Add ``value`` to the list under ``key`` (made if missing), atomically; the list lives on."""
        with self._lock:
            now = self._clock()
            item = self._items.get(key)
            values = list(item[1]) if item is not None and item[0] > now else []
            self._items[key] = (now + expires_in, [*values, value])

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
        claims = record.get("id_claims") or {}
        # Back-channel logout finds the sign-ins of a provider session, or of a customer.
        for name in ("sid", "sub"):
            if claims.get(name):
                self._store.append(f"{name}:{claims[name]}", key, self._lifetime)
        return key

    def end(self, *, sid: str | None = None, sub: str | None = None) -> int:
        """End the sign-ins of provider session ``sid`` (else of customer ``sub``); returns how many."""
        index = f"sid:{sid}" if sid else f"sub:{sub}" if sub else None
        if index is None:
            return 0
        ended = 0
        for key in self._store.get(index) or []:
            record = self.get(key)
            if record is not None and (not sub or record.get("id_claims", {}).get("sub") == sub):
                self._store.delete(self.PREFIX + key)
                ended += 1
        self._store.delete(index)
        return ended

    def get(self, key: str | None) -> dict | None:
        return self._store.get(self.PREFIX + key) if isinstance(key, str) and key else None

    def replace(self, key: str, record: dict) -> None:
        self._store.set(self.PREFIX + key, record, self._lifetime)

    def remove(self, key: str | None) -> dict | None:
        record = self.get(key)
        if record is not None:
            self._store.delete(self.PREFIX + key)
        return record
