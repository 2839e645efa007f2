"""Talking to the provider through Authlib's Flask client: sign-in, refresh, UserInfo, logout.

Everything protocol-shaped lives here; the views only call these functions and render the result.
Authlib does the OpenID Connect work (discovery, state, nonce, PKCE S256, ID-token signature and
claims); this module adds the checks a relying party owes on top of it:

* the discovered ``issuer`` equals ``DMS_ISSUER`` (OpenID Connect Discovery 1.0, section 4.3), and a
  callback's ``iss`` parameter, when sent, equals it too (RFC 9207);
* the ID token's ``aud`` names this client (Core 1.0, 3.1.3.7 step 3; Authlib checks ``azp`` only);
* UserInfo's ``sub`` equals the ID token's (Core 1.0, 5.3.4);
* a refreshed ID token keeps ``iss``, ``sub`` and ``aud`` (Core 1.0, 12.2).
"""
from __future__ import annotations

import logging
import time

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from authlib.integrations.requests_client import OAuth2Auth, OAuth2Session
from flask import current_app, request
from joserfc.errors import JoseError

from clients.dms_portal.config import PortalConfig

log = logging.getLogger(__name__)

#: The name the provider is registered under in Authlib's registry.
NAME = "provider"


class PortalError(Exception):
    """Signing in, refreshing or signing out did not work; ``code`` names the page's message.

    Codes: ``oauth.<error>`` for an error the provider returned (``oauth.login_required``, …),
    ``callback.*`` for a callback that does not belong to a sign-in started here, ``provider.*`` when
    the provider cannot be reached or answers something a relying party must not accept.
    """

    def __init__(self, code: str, detail: str | None = None, status: int = 400):
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


def init_oauth(app, config: PortalConfig, cache) -> OAuth:
    """Register the provider with Authlib; discovery is read lazily, on the first sign-in."""
    oauth = OAuth(app, cache=cache)
    oauth.register(
        NAME,
        client_id=config.client_id,
        client_secret=config.client_secret or None,
        server_metadata_url=config.metadata_url,
        client_kwargs={
            "code_challenge_method": "S256",
            # A client without a secret is a public client: PKCE alone protects its code.
            "token_endpoint_auth_method": "client_secret_basic" if config.client_secret else "none",
            "default_timeout": config.http_timeout,
        },
    )
    return oauth


def _client():
    return current_app.extensions["authlib.integrations.flask_client"].create_client(NAME)


def _config() -> PortalConfig:
    return current_app.extensions["dms_portal"].config


def _translate(exc: Exception) -> PortalError:
    """Map what Authlib, requests and joserfc raise to a PortalError with a page code."""
    if isinstance(exc, PortalError):
        return exc
    if isinstance(exc, OAuthError):
        if exc.error == "mismatching_state":
            return PortalError("callback.state", status=400)
        return PortalError(f"oauth.{exc.error}", exc.description, status=400)
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return PortalError("provider.unreachable", str(exc), status=503)
    if isinstance(exc, JoseError):
        return PortalError("provider.bad_id_token", f"{type(exc).__name__}: {exc}", status=502)
    return PortalError("provider.bad_response", f"{type(exc).__name__}: {exc}", status=502)


#: What can go wrong on a back-channel call; anything else is a bug and should be seen as one.
_EXPECTED = (OAuthError, requests.RequestException, JoseError, ValueError, KeyError, RuntimeError)


def metadata() -> dict:
    """The provider's discovery document, fetched once; refuses one whose issuer is not ours."""
    try:
        data = _client().load_server_metadata()
    except _EXPECTED as exc:
        raise _translate(exc) from exc
    expected = _config().issuer
    if data.get("issuer") != expected:
        raise PortalError("provider.issuer_mismatch",
                          f"discovery says {data.get('issuer')!r}, DMS_ISSUER is {expected!r}", status=502)
    return data


def start_sign_in(*, prompt: str | None = None):
    """The redirect to the provider's authorization endpoint (state, nonce and PKCE kept server-side)."""
    scope = _config().scope_for(metadata().get("scopes_supported"))
    extra = {"prompt": prompt} if prompt else {}
    try:
        return _client().authorize_redirect(_config().redirect_uri, scope=scope, ui_locales="ru", **extra)
    except _EXPECTED as exc:
        raise _translate(exc) from exc


def _id_token_options(**extra) -> dict:
    config = _config()
    return {"iss": {"essential": True, "value": config.issuer},
            "aud": {"essential": True, "value": config.client_id}, **extra}


def finish_sign_in() -> dict:
    """Handle ``/callback``: exchange the code and return the new sign-in record (tokens and claims)."""
    config = _config()
    if "error" not in request.args:
        if not request.args.get("code") or not request.args.get("state"):
            raise PortalError("callback.incomplete", status=400)
        iss = request.args.get("iss")
        if iss is not None and iss != config.issuer:
            raise PortalError("callback.issuer_mismatch", f"iss={iss!r}", status=400)
    # Authlib checks ``state`` (and raises an ``error`` sent back) before any network call; the discovery
    # it then uses was checked by start_sign_in, which must have run for the state to exist.
    try:
        token = _client().authorize_access_token(claims_options=_id_token_options())
    except _EXPECTED as exc:
        raise _translate(exc) from exc
    if not token.get("userinfo"):
        raise PortalError("provider.no_id_token", "the token response has no id_token", status=502)
    id_claims = dict(token.pop("userinfo"))
    record = {"token": _keep(token), "id_claims": id_claims, "nonce": id_claims.get("nonce"),
              "signed_in_at": int(time.time()), "refreshed_at": None}
    _load_userinfo(record)
    return record


def refresh(record: dict) -> dict:
    """Use the refresh token (``grant_type=refresh_token``); returns the record with the new tokens."""
    old = record["token"]
    if not old.get("refresh_token"):
        raise PortalError("refresh.unavailable", status=400)
    params = {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]}
    if old.get("scope"):
        params["scope"] = old["scope"]  # never more than was granted (RFC 6749, section 6)
    metadata()
    try:
        new = _client().fetch_access_token(**params)
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise PortalError("refresh.invalid_grant", exc.description, status=400) from exc
        raise _translate(exc) from exc
    except _EXPECTED as exc:
        raise _translate(exc) from exc
    return _apply_refreshed(record, new)


def _apply_refreshed(record: dict, new: dict) -> dict:
    new = dict(new)
    new.setdefault("refresh_token", record["token"].get("refresh_token"))  # no rotation: the old one stays
    record = dict(record)
    if new.get("id_token"):
        original = record["id_claims"]
        try:
            claims = _client().parse_id_token(new, nonce=None, claims_options=_id_token_options(
                sub={"essential": True, "value": original["sub"]},
                nonce={"validate": lambda _claims, value: value == record.get("nonce")}))
        except _EXPECTED as exc:
            raise _translate(exc) from exc
        record["id_claims"] = dict(claims)
    else:
        new["id_token"] = record["token"].get("id_token")  # the last one stays the logout hint
    record["token"] = _keep(new)
    record["refreshed_at"] = int(time.time())
    _load_userinfo(record)
    return record


def _load_userinfo(record: dict) -> None:
    """Fetch UserInfo with the current access token; a failure is shown on the page, not fatal."""
    record["userinfo"], record["userinfo_error"] = None, None
    if not metadata().get("userinfo_endpoint"):
        record["userinfo_error"] = "userinfo.unsupported"
        return
    token = record["token"]
    try:
        # An explicit OAuth2Auth without a client: Authlib must not refresh behind our back (a rotated
        # refresh token it does not hand back would sign the customer out at the next refresh).
        claims = dict(_client().userinfo(token=token, auth=OAuth2Auth(token)))
    except _EXPECTED as exc:
        log.warning("UserInfo failed: %s", exc)
        record["userinfo_error"] = "userinfo.failed"
        return
    if claims.get("sub") != record["id_claims"].get("sub"):
        log.warning("UserInfo sub %r differs from the ID token's %r; ignored", claims.get("sub"),
                    record["id_claims"].get("sub"))
        record["userinfo_error"] = "userinfo.sub_mismatch"
        return
    record["userinfo"] = claims


def _keep(token: dict) -> dict:
    """The parts of a token response worth keeping (never the raw response object)."""
    return {k: token.get(k) for k in ("access_token", "refresh_token", "id_token", "token_type", "scope",
                                      "expires_in", "expires_at")}


def revoke(record: dict) -> None:
    """Revoke the refresh token (RFC 7009) before signing out, so a copy of it is worth nothing."""
    token = record["token"].get("refresh_token") or record["token"].get("access_token")
    try:
        endpoint = metadata().get("revocation_endpoint")
    except PortalError as exc:
        log.warning("not revoking tokens: %s", exc)
        return
    if not endpoint or not token:
        return
    config = _config()
    hint = "refresh_token" if record["token"].get("refresh_token") else "access_token"
    try:
        with OAuth2Session(client_id=config.client_id, client_secret=config.client_secret or None,
                           revocation_endpoint_auth_method="client_secret_basic" if config.client_secret
                           else "none", default_timeout=config.http_timeout) as session:
            response = session.revoke_token(endpoint, token=token, token_type_hint=hint)
    except requests.RequestException as exc:
        log.warning("token revocation failed: %s", exc)
        return
    if response.status_code != 200:
        log.warning("token revocation answered HTTP %s: %s", response.status_code, response.text[:200])


def logout_redirect(record: dict):
    """The redirect to the provider's end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0)."""
    config = _config()
    if not metadata().get("end_session_endpoint"):
        raise PortalError("signout.unsupported", status=200)
    try:
        return _client().logout_redirect(post_logout_redirect_uri=config.post_logout_redirect_uri,
                                         id_token_hint=record["token"].get("id_token"),
                                         client_id=config.client_id, ui_locales="ru")
    except _EXPECTED as exc:
        raise _translate(exc) from exc


def finish_logout() -> None:
    """Check the ``state`` the provider sent back to the post-logout redirect URI."""
    try:
        _client().validate_logout_response()
    except OAuthError as exc:
        raise PortalError("signout.unconfirmed", exc.description, status=200) from exc


def jwks(force: bool = False) -> dict:
    """The provider's JWKS (from discovery's ``jwks_uri``), cached; ``force`` fetches it again."""
    metadata()
    try:
        return _client().fetch_jwk_set(force=force)
    except _EXPECTED as exc:
        raise _translate(exc) from exc
