"""The common case of the machine endpoints and of the token endpoint's grants, answered without Authlib's
request machinery.

UserInfo (``GET /oauth/userinfo`` with ``Authorization: Bearer``) and introspection (``POST
/oauth/introspect`` with HTTP Basic) are what resource servers call on every API request they serve.
Through Authlib each of them builds two request objects (one of them for nothing: Authlib's UserInfo
endpoint makes a token-endpoint request it never reads), goes through the endpoint registry and the
resource protector, and decodes the client's registration metadata to learn that UserInfo is not signed.
That was more CPU than the lookup itself.

Here the same steps run directly, with the same hooks (:class:`idp.oidc.hooks.ProviderHooks` via the
registered endpoint objects), the same lookup (:mod:`idp.oidc.records`, one indexed query by the
token's SHA-256), the same rules (:class:`idp.oidc.tokens.IssuedToken`: expired, revoked, disabled
client or account) and the same response (``server.handle_response``: JSON body, ``Cache-Control:
no-store``, ``Pragma: no-cache``). Only the answers that are a success are made here; anything else
returns ``None`` and the caller hands the request to Authlib's endpoint, which does it all again and
answers as it always has (every error, every challenge, every log line comes from there). Nothing here
writes, logs or has side effects that the second pass would repeat.

What the direct path answers:

* UserInfo: a bearer token in the ``Authorization`` header, found, unexpired, not revoked, with scope
  ``openid``: the claims (never signed: the provider's clients register no
  ``userinfo_signed_response_alg``, see :attr:`idp.clients.OAuthClient.client_metadata`);
* introspection: a confidential client authenticated by ``client_secret_basic`` (the keyed hash compared
  in constant time, :func:`idp.clients.check_secret`), a ``token`` parameter and a supported hint or none:
  the token's metadata, or ``{"active": false}`` (unknown, expired, revoked, another client's);
* the token endpoint's ``client_credentials`` grant (what an API client asks for before its calls): a
  form with ``grant_type=client_credentials`` and at most ``scope``, each once, no query string, a
  confidential client authenticated by ``client_secret_basic`` that may use the grant, a scope it may
  have (or none): the token, made and stored by the same hooks (``generate_token``,
  :meth:`idp.oidc.hooks.ProviderHooks.store_token`: its row and its audit event, written by the view
  (or the WSGI-level fast path, :mod:`idp.oidc.fastpath`) with the request's other writes). It steps
  aside when something listens to Authlib's ``client_authenticated`` signal or the grant registered for
  ``client_credentials`` is not the plain :class:`idp.oidc.grants.ClientCredentialsGrant` (an extension,
  a hook). Authlib's own path for it was most of the endpoint's CPU: its request object, the grant lookup,
  the client-authentication registry, Werkzeug's form parser;
* the ``refresh_token`` grant (what every relying party sends when an access token runs out): the same
  kind of form (``grant_type``, ``refresh_token``, at most ``scope``; ``client_id`` too from a public
  client), a client authenticated by ``client_secret_basic`` or a public client (``none``) that may use
  the grant, its refresh token found (with the client, in one lookup: :func:`idp.oidc.records.expecting_token`),
  unspent, unexpired, not revoked, a scope within the one granted, a customer who may still receive
  tokens: the new tokens (rotation: a new refresh token, the presented one spent by
  ``revoke_old_credential``; the ID token of :class:`idp.oidc.grants.OpenIDRefreshExtension` when the
  scope has ``openid``). A spent refresh token presented again is Authlib's path's, which raises the
  reuse alarm. It steps aside, as above, unless the grant is the plain
  :class:`idp.oidc.grants.RefreshTokenGrant` with only that extension;
* the ``authorization_code`` grant (the code exchange that ends every sign-in at a portal): a form with
  ``grant_type``, ``code`` and at most ``redirect_uri`` and ``code_verifier`` (``client_id`` too from a
  public client), each once, the client authenticated as for refresh and allowed the grant, its own code
  found unspent and unexpired, the same ``redirect_uri`` as the authorization request's, the PKCE check
  of :class:`idp.oidc.grants.S256CodeChallenge` passed, a customer who may receive tokens: the tokens and
  the ID token (``nonce``, ``auth_time``, ``amr`` of the code) of
  :class:`idp.oidc.grants.OpenIDCodeExtension`, the code spent by ``ProviderHooks.spend_code``. The code
  is only read until the answer is certain; a replayed or expired code, a wrong verifier and every other
  error are Authlib's path's (which raises a replay's alarm). It steps aside unless the grant is the plain
  :class:`idp.oidc.grants.AuthorizationCodeGrant` with those two extensions.

The token answers are computed by :func:`token_payload` (an app context is enough), which both the view
(:func:`token`) and the WSGI-level fast path in front of Flask call.
"""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2.signals import client_authenticated, token_authenticated
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core.grants.util import is_openid_scope
from flask import g, request

from idp.clients import check_secret
from idp.oidc import records, tokens
from idp.oidc.grants import (AuthorizationCodeGrant, ClientCredentialsGrant, OpenIDCodeExtension,
                             OpenIDRefreshExtension, RefreshTokenGrant, S256CodeChallenge)
from idp.oidc.scopes import machine_scope

#: The scope UserInfo requires (OIDC Core §5.3), as Authlib's endpoint asks its resource protector for it.
_USERINFO_SCOPE = "openid"


def userinfo(server):
    """The UserInfo response of a request in the common case, or None (see the module's documentation)."""
    claims = userinfo_claims(server, request.environ)
    return None if claims is None else server.handle_response(200, claims, default_json_headers)


def userinfo_claims(server, environ) -> dict | None:
    """The claims :func:`userinfo` answers with for the request of ``environ``, or None. Needs an app
    context only (no request context): the WSGI-level fast path (:mod:`idp.oidc.fastpath`) calls it too."""
    auth = environ.get("HTTP_AUTHORIZATION")
    if not auth:
        return None  # no header: a token in a form body, or none (Authlib's path answers both)
    parts = auth.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    endpoint = server._endpoints["userinfo"][0]
    protector = endpoint.resource_protector
    validator = protector.get_token_validator("bearer")
    token = validator.authenticate_token(parts[1].strip())
    if token is None or token.is_expired() or token.is_revoked():
        return None
    if validator.scope_insufficient(token.get_scope(), [_USERINFO_SCOPE]):
        return None  # insufficient_scope (403), Authlib's answer
    token_authenticated.send(protector, token=token)  # as Authlib's protector does
    g.authlib_server_oauth2_token = token
    return endpoint.generate_user_info(token.get_user(), token.scope)


def introspection(server):
    """The introspection response of a request in the common case, or None (see the module's documentation)."""
    form = _form_values(request._get_current_object())
    if form is None:
        return None
    payload = introspection_payload(server, request.environ, form)
    return None if payload is None else server.handle_response(200, payload, default_json_headers)


def introspection_payload(server, environ, form: dict[str, str]) -> dict | None:
    """The payload :func:`introspection` answers with for the request of ``environ`` whose form-encoded
    body is ``form`` (:func:`parse_form`), or None. Needs an app context only, like :func:`userinfo_claims`."""
    endpoint = server._endpoints["introspection"][0]
    credentials = endpoint.basic_credentials({"Authorization": environ.get("HTTP_AUTHORIZATION")})
    if credentials is None:
        return None
    client_id, secret = credentials
    if "token" not in form:
        return None  # invalid_request, once the client is authenticated: Authlib's answer
    hint = form.get("token_type_hint")
    if hint and hint not in endpoint.SUPPORTED_TOKEN_TYPES:
        return None
    value = form["token"]
    with records.expecting_token(tokens.hash_of(value), refresh=hint == tokens.REFRESH):
        client = _basic_client(endpoint, client_id, secret, endpoint.ENDPOINT_NAME)  # with the token it names
        if client is None:
            return None
        token = endpoint.query_token(value, hint)
    if token is not None and not endpoint.check_permission(token, client, None):
        token = None
    return endpoint.create_introspection_payload(token)


#: The only fields the direct client_credentials answer accepts (anything else: Authlib's path decides).
_CLIENT_CREDENTIALS_FIELDS = frozenset(("grant_type", "scope"))
_CLIENT_CREDENTIALS = "client_credentials"


def token(server):
    """The token endpoint's response in the common case of the ``client_credentials``, ``refresh_token``
    and ``authorization_code`` grants, or None (see the module's documentation). Inside the endpoint's
    :func:`idp.oidc.tokens.deferred_writes`: what the answer writes (the new token's row and audit event,
    the spent code or refresh token) is queued for the view to write; nothing is queued unless the answer
    is a success."""
    req = request._get_current_object()
    if req.environ.get("QUERY_STRING"):
        return None
    form = _form_values(req, unique=True)
    payload = token_payload(server, req.environ, form) if form is not None else None
    return None if payload is None else server.handle_response(200, payload, TOKEN_HEADERS)


#: The headers of a token response (RFC 6749 §5.1: no caching), as every grant of Authlib's sends them.
TOKEN_HEADERS = default_json_headers


def token_payload(server, environ, form: dict[str, str]) -> dict | None:
    """The token response :func:`token` answers with for the request of ``environ`` whose form-encoded body
    is ``form`` (:func:`parse_form` with ``unique``), or None; its writes queued as :func:`token` says.
    Needs an app context only, like :func:`userinfo_claims`: the WSGI-level fast path calls it too."""
    if client_authenticated.receivers:
        return None
    answer = _TOKEN_GRANTS.get(form.get("grant_type"))
    return answer(server, environ, form) if answer is not None else None


def client_credentials(server, environ, form: dict[str, str]) -> dict | None:
    """A ``client_credentials`` grant's token response (see :func:`token_payload`), or None."""
    if not _CLIENT_CREDENTIALS_FIELDS >= form.keys():
        return None
    grant = _plain_grant(server, _CLIENT_CREDENTIALS)
    if grant is None:
        return None
    credentials = grant.basic_credentials({"Authorization": environ.get("HTTP_AUTHORIZATION")})
    if credentials is None:
        return None
    client = _basic_client(server, *credentials, "token")
    if client is None:
        return None
    if not client.check_grant_type(_CLIENT_CREDENTIALS):
        return None  # unauthorized_client
    scope = form.get("scope")
    try:
        server.validate_requested_scope(scope)
    except OAuth2Error:
        return None  # invalid_scope
    if scope and not machine_scope(client.scopes, scope):
        return None  # invalid_scope (idp.oidc.grants.ClientCredentialsGrant)
    token = server.generate_token(grant_type=_CLIENT_CREDENTIALS, client=client, user=None, scope=scope,
                                  expires_in=None, include_refresh_token=False)
    server.store_token(token, client=client, user=None, grant_type=_CLIENT_CREDENTIALS)
    return token


#: The fields the direct refresh answer accepts: with HTTP Basic, and from a public client (``none``).
_REFRESH_FIELDS = frozenset(("grant_type", "refresh_token", "scope"))
_REFRESH = "refresh_token"


def refresh(server, environ, form: dict[str, str]) -> dict | None:
    """A ``refresh_token`` grant's token response (see :func:`token_payload`), or None. The spend of the
    presented refresh token is queued with the new token's writes: if a concurrent use of it won, the view's
    write finds it spent and answers with the reuse alarm, as on Authlib's path."""
    if "refresh_token" not in form:
        return None
    grant = _plain_grant(server, _REFRESH)
    if grant is None:
        return None
    value = form["refresh_token"]
    with records.expecting_token(tokens.hash_of(value), refresh=True):  # the client and the token: one query
        client = _token_client(server, grant, environ.get("HTTP_AUTHORIZATION"), form, _REFRESH_FIELDS)
        if client is None or not client.check_grant_type(_REFRESH):
            return None  # invalid_client, unauthorized_client
        previous = tokens.find_token(value, tokens.REFRESH, now=server.now())
    if previous is None or not previous.check_client(client) or previous.is_expired() or previous.is_revoked():
        return None  # invalid_grant (is_revoked: spent too; a spent one's reuse alarm is Authlib's path's)
    scope = form.get("scope")
    if scope and not set(scope_to_list(previous.get_scope()) or ()).issuperset(scope_to_list(scope)):
        return None  # invalid_scope: more than was granted
    try:
        user = server.authenticate_user(previous)
    except OAuth2Error:
        return None  # the account cannot receive tokens
    token = server.generate_token(grant_type=_REFRESH, client=client, user=user,
                                  scope=scope or previous.get_scope(), expires_in=None,
                                  include_refresh_token=grant.INCLUDE_NEW_REFRESH_TOKEN)
    server.store_token(token, client=client, user=user, grant_type=_REFRESH, previous=previous)
    server.revoke_old_credential(previous)
    if is_openid_scope(token.get("scope")):  # OpenIDRefreshExtension's process_token
        token["id_token"] = server.id_token(token, client=client, user=user, previous=previous)
    return token


#: The fields the direct code exchange accepts (and ``client_id`` from a public client).
_CODE_FIELDS = frozenset(("grant_type", "code", "redirect_uri", "code_verifier"))
_CODE = "authorization_code"


def code_exchange(server, environ, form: dict[str, str]) -> dict | None:
    """An ``authorization_code`` grant's token response (see :func:`token_payload`), or None. The code is
    looked up (with the client, in one query: :func:`idp.oidc.records.expecting_code`) without being spent;
    only an exchange that succeeds spends it, queued with the new tokens' writes (a concurrent exchange of
    the same code that won makes the spend find it spent: the view then answers with the replay alarm, as
    on Authlib's path). A code used already, or expired, is Authlib's path's."""
    if "code" not in form:
        return None
    grant = _plain_grant(server, _CODE)
    if grant is None:
        return None
    value = form["code"]
    with records.expecting_code(tokens.hash_of(value)):  # the client, the code and its customer: one query
        client = _token_client(server, grant, environ.get("HTTP_AUTHORIZATION"), form, _CODE_FIELDS)
        if client is None or not client.check_grant_type(_CODE):
            return None  # invalid_client, unauthorized_client
        code = tokens.find_code(value)
    now = server.now()
    if code is None or code.client_pk != client.id or code.used_at is not None or code.expires_at <= now:
        return None  # invalid_grant (and a replay's alarm)
    original_redirect_uri = code.get_redirect_uri()
    if original_redirect_uri and form.get("redirect_uri") != original_redirect_uri:
        return None  # invalid_grant
    if not _code_verified(_extension(server, _CODE, S256CodeChallenge), code, form,
                          public=not environ.get("HTTP_AUTHORIZATION")):
        return None  # PKCE (RFC 7636 §4.6): invalid_request or invalid_grant
    try:
        user = server.authenticate_user(code)
    except OAuth2Error:
        return None  # the account cannot receive tokens
    token = server.generate_token(grant_type=_CODE, client=client, user=user, scope=code.get_scope(),
                                  expires_in=None, include_refresh_token=client.check_grant_type(_REFRESH))
    server.spend_code(code, client, now)  # where Authlib's path spends it: before the token is stored
    server.store_token(token, client=client, user=user, grant_type=_CODE, code=code)
    if is_openid_scope(token.get("scope")):  # OpenIDCodeExtension's process_token
        token["id_token"] = server.id_token(token, client=client, user=user, code=code)
    return token


def _code_verified(pkce, code, form: dict[str, str], *, public: bool) -> bool:
    """Whether the exchange passes the PKCE extension's own check (``validate_code_verifier``, handed the
    parts of the grant's request it reads), public clients authenticated by ``none`` included."""
    grant = SimpleNamespace(request=SimpleNamespace(form=form, authorization_code=code,
                                                    auth_method="none" if public else "client_secret_basic"))
    try:
        pkce.validate_code_verifier(grant, None)
    except OAuth2Error:
        return False
    return True


_TOKEN_GRANTS = {_CLIENT_CREDENTIALS: client_credentials, _REFRESH: refresh, _CODE: code_exchange}


def _token_client(server, grant, authorization: str | None, form: dict[str, str], fields: frozenset):
    """The client of a token request whose form has no field but ``fields`` (and ``client_id`` from a
    public client), as the first of Authlib's methods for the grant that succeeds would find it, for the two
    this path takes: ``client_secret_basic`` (an ``Authorization`` header, no ``client_id`` in the form) and
    ``none`` (a public client that names itself, no header); else None."""
    if authorization:
        if not fields >= form.keys():
            return None
        credentials = grant.basic_credentials({"Authorization": authorization})
        return _basic_client(server, *credentials, "token") if credentials is not None else None
    if not fields | {"client_id"} >= form.keys() or "none" not in grant.TOKEN_ENDPOINT_AUTH_METHODS:
        return None
    client = server.query_client(form.get("client_id"))
    if client is None or not client.public or not client.check_endpoint_auth_method("none", "token"):
        return None
    return client


def _basic_client(hooks, client_id: str, secret: str, endpoint_name: str):
    """The enabled confidential client ``client_id`` (``hooks.query_client``) if ``secret`` is its secret
    (the keyed hash compared in constant time) and it may use ``client_secret_basic`` at ``endpoint_name``,
    else None: Authlib's path then tries the other methods, logs the failure and answers invalid_client."""
    client = hooks.query_client(client_id)
    if (client is None or client.public or not client.check_endpoint_auth_method("client_secret_basic", endpoint_name)
            or not check_secret(secret, client.secret_hash, hooks.services.settings.secret_key)):
        return None
    return client


def _plain_grant(server, grant_type: str):
    """The grant class registered for ``grant_type``, if it is the provider's own with the provider's own
    extensions and nothing else (then the answer here is that grant's), else None."""
    found = _registered(server, grant_type)
    if found is None:
        return None
    grant_cls, extensions = found
    return grant_cls if (grant_cls, tuple(type(e) for e in extensions)) == _PLAIN[grant_type] else None


def _extension(server, grant_type: str, kind: type):
    """The extension of type ``kind`` registered with ``grant_type``'s grant (for its settings)."""
    return next(e for e in _registered(server, grant_type)[1] if type(e) is kind)


def _registered(server, grant_type: str):
    for grant_cls, extensions in server._token_grants:
        if grant_cls.GRANT_TYPE == grant_type:
            return grant_cls, tuple(extensions or ())
    return None


_PLAIN = {_CLIENT_CREDENTIALS: (ClientCredentialsGrant, ()),
          _REFRESH: (RefreshTokenGrant, (OpenIDRefreshExtension,)),
          _CODE: (AuthorizationCodeGrant, (OpenIDCodeExtension, S256CodeChallenge))}


_URLENCODED = "application/x-www-form-urlencoded"


def _form_values(req, *, unique: bool = False) -> dict[str, str] | None:
    """The first value of every field of a form-encoded body, as ``req.form.get`` would give them, or None
    for any other body (or one Werkzeug would read as an empty form: not UTF-8).

    Werkzeug's form parser for this content type is ``parse_qsl`` over the whole (length-limited) body;
    this is the same call on the same bytes without building the parser and the multidict. The body is
    kept (``get_data(cache=True)``), so ``req.form``, if anything reads it later (Authlib's path, when
    the direct one does not answer), parses the very same bytes."""
    if "form" in req.__dict__ or req.mimetype != _URLENCODED:
        return None
    return parse_form(req.get_data(cache=True), unique=unique)  # 413 beyond MAX_CONTENT_LENGTH, as req.form


def parse_form(data: bytes, *, unique: bool = False) -> dict[str, str] | None:
    """The first value of every field of a form-encoded body as Werkzeug's form parser reads it, or None
    for a body it would read as an empty form (not UTF-8, see :func:`_form_values`); with ``unique``,
    None for a body naming a field twice too."""
    try:
        items = parse_qsl(data.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    except ValueError:
        return None  # Werkzeug's parser is silent about these: an empty form
    values: dict[str, str] = {}
    for name, value in items:
        if unique and name in values:
            return None
        values.setdefault(name, value)
    return values
