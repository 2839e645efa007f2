"""Token introspection (RFC 7662): a confidential client asks whether a token issued to it is active.

The client authenticates (``client_secret_basic`` or ``client_secret_post``); ``token`` is required,
``token_type_hint`` optional (``access_token`` or ``refresh_token``: that kind is looked up first, §2.1).
A token that is unknown, expired, revoked, spent, or issued to another client is ``{"active": false}``
(§2.2) — the client learns nothing about other clients' tokens. The client and the token it names come
from one query. An access token is opaque or a JWT (RFC 9068, :mod:`idp.oidc.access_tokens`): a JWT is
looked up by its ``jti``, so one revoked is inactive here as an opaque one is (its ``aud`` is the JWT's;
an opaque token's is the resource it was issued for, RFC 8707, else the client's ``client_id``).
"""
from __future__ import annotations

from idp.oidc import access_tokens
from idp.oidc.models import unix
from idp.oidc.protocol import client_auth
from idp.oidc.protocol.context import Call, Provider
from idp.oidc.protocol.errors import InvalidRequest, UnsupportedTokenType
from idp.oidc.store import records
from idp.oidc.tokens import ACCESS, REFRESH, IssuedToken

HINTS = (ACCESS, REFRESH)


def check_params(form: dict[str, str]) -> None:
    """``token`` required, ``token_type_hint`` one of :data:`HINTS` (RFC 7662 §2.1, RFC 7009 §2.1)."""
    if "token" not in form:
        raise InvalidRequest("Missing 'token' in request.")
    hint = form.get("token_type_hint")
    if hint and hint not in HINTS:
        raise UnsupportedTokenType("The token_type_hint is not supported.")


def client_and_token(provider: Provider, connection, call: Call, *, methods: tuple[str, ...]):
    """The authenticated client, the token the request names (None if there is none) and, for a JWT access
    token, its verified claims: the hinted kind first, with the client in one query, then the other kind
    (RFC 7009 §2.1, RFC 7662 §2.1)."""
    form = call.form
    presented = client_auth.credentials(call.authorization, form)
    value = form.get("token")
    hashed, claims = access_tokens.read(value, provider.keys, issuer=provider.issuer)
    refresh_first = form.get("token_type_hint") == REFRESH and claims is None  # a JWT is an access token
    client, row = records.client_with_token(connection, presented.client_id, hashed, refresh=refresh_first)
    client = client_auth.authenticate(connection, client, presented, methods=methods,
                                      keys=provider.settings.secret_keys, log_extra=call.log)
    check_params(form)
    now = provider.clock.now()
    if row is not None:
        return client, IssuedToken(row, REFRESH if refresh_first else ACCESS, now), claims
    if hashed is not None and claims is None:
        row = records.token(connection, hashed, refresh=not refresh_first)
        if row is not None:
            return client, IssuedToken(row, ACCESS if refresh_first else REFRESH, now), None
    return client, None, None


def introspection(provider: Provider, connection, call: Call) -> dict:
    client, token, claims = client_and_token(provider, connection, call,
                                             methods=client_auth.INTROSPECTION_METHODS)
    if token is None or not token.belongs_to(client) or not token.is_active():
        return {"active": False}
    row = token.row
    audience = claims["aud"] if claims is not None else row.resource or client.client_id
    payload = {"active": True, "client_id": client.client_id, "scope": row.scope, "iss": provider.issuer,
               "aud": audience, "iat": unix(row.issued_at), "exp": token.expires_at_unix()}
    if token.kind == ACCESS:
        payload["token_type"] = "Bearer"
    if row.account is not None:
        payload["sub"] = row.account.subject
    return payload

