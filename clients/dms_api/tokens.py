"""Validating the provider's JWT access tokens (RFC 9068) locally, with its published keys (JWKS).

* The JWKS is fetched from the ``jwks_uri`` of the provider's discovery document once and kept; a token
  signed with a key not in it (the provider rotated its keys) makes one new fetch — at most one per
  :attr:`Validator.refetch_interval`, so tokens with made-up ``kid`` values cannot make this API hammer
  the provider; nor is a failed fetch tried again within that interval.
* A token counts only if: it is a compact JWS with ``typ`` ``at+jwt`` (RFC 9068 §2.1, so an ID token is
  never taken for an access token), ``alg`` RS256 and a ``kid`` of the JWKS; the signature verifies; ``iss``
  is the provider, ``aud`` names this API, ``exp`` is in the future and ``iat``/``nbf`` not (RFC 9068 §4).
* What it cannot see: a token revoked at the provider stays valid here until it expires.

It uses joserfc's public API only and imports nothing from the provider.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

ALGORITHMS = ["RS256"]
TYP = "at+jwt"


class InvalidToken(Exception):
    """The token is not one this API accepts; the message says why (logged, never shown in full)."""


class ProviderUnavailable(Exception):
    """The provider's discovery document or JWKS could not be read."""


#: ``fetch(url) -> dict``: a JSON document by HTTP GET (raises on failure).
Fetch = Callable[[str], dict]


def http_fetch(timeout: float = 5.0) -> Fetch:
    import requests

    def fetch(url: str) -> dict:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        return response.json()

    return fetch


class Validator:
    def __init__(self, *, issuer: str, audience: str, fetch: Fetch, clock: Callable[[], float] = time.time,
                 leeway: int = 30, refetch_interval: float = 10.0):
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.fetch = fetch
        self.clock = clock
        self.leeway = leeway
        self.refetch_interval = refetch_interval
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._keys: KeySet | None = None
        self._kids: frozenset = frozenset()
        self._fetched_at = float("-inf")  # clock() of the last JWKS fetch

    # -- the keys -------------------------------------------------------------------------------------

    def _load(self) -> None:
        """Fetch the JWKS (and, the first time, the discovery document naming it)."""
        try:
            if self._jwks_uri is None:
                metadata = self.fetch(self.issuer + "/.well-known/openid-configuration")
                if metadata.get("issuer") != self.issuer or not metadata.get("jwks_uri"):
                    raise ProviderUnavailable("the discovery document names another issuer or no jwks_uri")
                self._jwks_uri = metadata["jwks_uri"]
            document = self.fetch(self._jwks_uri)
            keys = KeySet.import_key_set(document)
        except ProviderUnavailable:
            raise
        except Exception as exc:  # network, HTTP status, JSON, a key joserfc cannot read
            raise ProviderUnavailable(f"cannot read the provider's keys: {type(exc).__name__}") from None
        finally:
            self._fetched_at = self.clock()
        self._keys = keys
        self._kids = frozenset(key.kid for key in keys.keys if key.kid)

    def keys_for(self, kid: str) -> KeySet:
        """The key set, fetched if there is none yet or if it lacks ``kid`` (rate-limited)."""
        with self._lock:
            stale = self.clock() - self._fetched_at >= self.refetch_interval
            if self._keys is None and not stale:  # the last attempt failed a moment ago
                raise ProviderUnavailable("the provider's keys could not be read a moment ago")
            if self._keys is None or (kid not in self._kids and stale):
                self._load()
            if kid not in self._kids:
                raise InvalidToken("signed with a key the provider does not publish")
            return self._keys

    # -- a token --------------------------------------------------------------------------------------

    def validate(self, value: str) -> dict:
        """The claims of ``value`` if it is a valid access token for this API; :class:`InvalidToken` else."""
        if not isinstance(value, str) or value.count(".") != 2 or len(value) > 16384:
            raise InvalidToken("not a compact JWS")
        try:
            header = jws.extract_compact(value.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError, TypeError):
            raise InvalidToken("not a compact JWS") from None
        if str(header.get("typ", "")).lower() not in (TYP, "application/" + TYP):
            raise InvalidToken("not an access token (typ)")
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise InvalidToken("unexpected alg or no kid")
        keys = self.keys_for(header["kid"])
        try:
            token = jwt.decode(value, keys, algorithms=ALGORITHMS)
            JWTClaimsRegistry(now=int(self.clock()), leeway=self.leeway,
                              iss={"essential": True, "value": self.issuer},
                              aud={"essential": True, "value": self.audience},
                              exp={"essential": True}, sub={"essential": True},
                              client_id={"essential": True}, iat={"essential": True},
                              jti={"essential": True}).validate(token.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(f"signature or claims: {type(exc).__name__}") from None
        return dict(token.claims)
