"""A relying party written by hand for the tests: ``requests`` for HTTP, ``joserfc`` for ID tokens.

Deliberately not Authlib (the server's own library), so the provider is checked against an independent
reading of the specifications: discovery, PKCE S256, state, nonce, ``iss`` in the response (RFC 9207),
the ID token's signature against the published JWKS and its claims (OIDC Core §3.1.3.7).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


@dataclass
class AuthRequest:
    url: str
    state: str
    nonce: str
    verifier: str | None
    params: dict = field(default_factory=dict)


@dataclass
class RelyingParty:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def metadata(self) -> dict:
        if not hasattr(self, "_metadata"):
            url = self.issuer + "/.well-known/openid-configuration"
            self._metadata = self.http.get(url, timeout=10).json()
        return self._metadata

    def authorization(self, scope: str = "openid profile email phone offline_access", *, pkce: bool = True,
                      **extra) -> AuthRequest:
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48) if pkce else None
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": scope, "state": state, "nonce": nonce}
        if verifier:
            params.update(code_challenge=s256(verifier), code_challenge_method="S256")
        params.update({k: v for k, v in extra.items() if v is not None})
        url = self.metadata["authorization_endpoint"] + "?" + urlencode(params)
        return AuthRequest(url, state, nonce, verifier, params)

    def callback(self, url: str, request: AuthRequest) -> dict:
        """The authorization response at the redirect URI, checked for ``state`` and ``iss``."""
        assert url.startswith(self.redirect_uri + "?"), url
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query.get("state") == request.state, query
        assert query.get("iss") == self.issuer, query
        return query

    def _auth(self, method: str, data: dict) -> dict:
        if method == "basic":
            return {"auth": (self.client_id, self.client_secret)}
        if method == "post":
            data.update(client_id=self.client_id, client_secret=self.client_secret)
        else:
            data.update(client_id=self.client_id)
        return {}

    def token(self, data: dict, method: str = "basic") -> requests.Response:
        data = dict(data)
        kwargs = self._auth(method, data)
        return self.http.post(self.metadata["token_endpoint"], data=data, timeout=10, **kwargs)

    def exchange(self, code: str, request: AuthRequest, method: str = "basic", **extra) -> requests.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if request.verifier:
            data["code_verifier"] = request.verifier
        data.update(extra)
        return self.token(data, method)

    def refresh(self, refresh_token: str, method: str = "basic") -> requests.Response:
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token}, method)

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(self.http.get(self.metadata["jwks_uri"], timeout=10).json())

    def id_token_claims(self, id_token: str, *, now: int, nonce: str | None = None,
                        access_token: str | None = None) -> dict:
        """Verify the ID token as OIDC Core §3.1.3.7 says: RS256 by a published key; iss, aud, exp."""
        token = jwt.decode(id_token, self.jwks(), algorithms=["RS256"])
        assert token.header["alg"] == "RS256" and token.header.get("kid"), token.header
        options = {"iss": {"essential": True, "value": self.issuer}, "sub": {"essential": True},
                   "aud": {"essential": True, "value": self.client_id}, "exp": {"essential": True},
                   "iat": {"essential": True}}
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        JWTClaimsRegistry(now=now, leeway=0, **options).validate(token.claims)
        if access_token is not None:
            assert token.claims["at_hash"] == at_hash(access_token)
        return dict(token.claims)

    def userinfo(self, access_token: str, how: str = "get") -> requests.Response:
        url = self.metadata["userinfo_endpoint"]
        header = {"Authorization": f"Bearer {access_token}"}
        if how == "get":
            return self.http.get(url, headers=header, timeout=10)
        if how == "post_header":
            return self.http.post(url, headers=header, timeout=10)
        return self.http.post(url, data={"access_token": access_token}, timeout=10)

    def revoke(self, token: str, hint: str | None = None, method: str = "basic") -> requests.Response:
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        kwargs = self._auth(method, data)
        return self.http.post(self.metadata["revocation_endpoint"], data=data, timeout=10, **kwargs)

    def introspect(self, token: str) -> dict:
        response = self.http.post(self.metadata["introspection_endpoint"], data={"token": token},
                                  auth=(self.client_id, self.client_secret), timeout=10)
        assert response.status_code == 200, response.text
        return response.json()
