"""The authorization endpoint (RFC 6749 §3.1, §4.1.1; OIDC Core §3.1.2): validate, hand over, issue.

Order matters for safety (RFC 6749 §4.1.2.1, RFC 9700 §4.1): an unknown or disabled ``client_id`` or a
``redirect_uri`` that is not registered for it (exactly) gets our error page and is never redirected
to. Every later error goes back to the registered redirect URI with ``error``, ``state`` and ``iss``.
"""
from __future__ import annotations

from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, UnsupportedResponseTypeError
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask import current_app, g, redirect, render_template, request, url_for

from idp.clients import find_active_client
from idp.extensions import db
from idp.oidc.consent import grant_consent
from idp.oidc.id_token import InvalidHint, read_hint
from idp.oidc.interaction import (CONSENT, LOGIN, REAUTH_PARAM, Situation, next_step, parse_max_age,
                                  parse_prompts, read_reauth, request_digest, sign_reauth)
from idp.oidc.scopes import scope_list
from idp.secret_keys import SecretKeys
from idp.web.context import current_account, current_session

#: Form fields of our own consent page, never part of the authorization request.
_OWN_FIELDS = ("csrf_token", "decision", REAUTH_PARAM)
#: ``nonce`` longer than this is refused (OIDC Core sets no limit; the column does).
MAX_NONCE = 512
#: ``next`` must fit what /login accepts (idp.web.context.safe_next).
_MAX_NEXT = 4000


def error_page(code: str, status: int = 400):
    """Our own page, for requests that must not be redirected anywhere."""
    return render_template("error.html", code=code, status=status), status


def handle(server, *, decision: str | None = None):
    """Answer an authorization request; ``decision`` is the customer's answer on the consent page."""
    params = request.values
    if any(len(params.getlist(name)) > 1 for name in ("client_id", "redirect_uri")):
        return error_page("oauth.invalid_request")
    client = find_active_client(params.get("client_id"))
    if client is None:
        return error_page("oauth.unknown_client")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        return error_page("oauth.redirect_uri_mismatch")
    state = params.get("state")
    services = current_app.extensions["idp"]
    now = services.clock.now()
    try:
        _precheck(params)
        prompts = parse_prompts(params.get("prompt"))
        max_age = parse_max_age(params.get("max_age"))
        account, signed_in = current_account(), current_session()
        if account is None or account.password_hash is None:
            account, signed_in = None, None  # an account that must change its password gets nothing
        grant = server.get_consent_grant(end_user=account)
        situation = Situation(client=client, account=account, signed_in=signed_in, now=now,
                              scope=grant.request.scope or "", prompts=prompts, max_age=max_age,
                              hint_subject=_hint_subject(server, params.get("id_token_hint")),
                              reauth_since=read_reauth(services.settings.secret_keys,
                                                       params.get(REAUTH_PARAM), now, _digest(params)),
                              consent_given=decision is not None)
        step = next_step(situation)
        if step == LOGIN:
            return redirect(_login_url(params, account, services.settings.secret_keys, now))
    except OAuth2Error as error:
        return back_to_client(server, error, redirect_uri, state)
    if step == CONSENT:
        return _consent_page(client, account, grant.request.scope or "", params)
    if decision == "allow":
        grant_consent(account.id, client, grant.request.scope or "", now=now)
    grant.request.browser_session = signed_in
    response = server.create_authorization_response(grant=grant,
                                                    grant_user=None if decision == "deny" else account)
    db.session.commit()
    return response


def back_to_client(server, error: OAuth2Error, redirect_uri: str, state: str | None):
    """The error as a redirect to the (validated) redirect URI, with ``state`` and ``iss``."""
    db.session.rollback()
    if error.redirect_uri is None:
        error.redirect_uri = redirect_uri
    if state and not error.state:
        error.state = state
    response = server.handle_error_response(None, error)
    server.issuer_parameter.add_issuer_parameter(server, response)
    return response


def _precheck(params) -> None:
    """Refusals Authlib would word with the raw input (which may hold characters OAuth errors forbid)."""
    if any("\x00" in value for value in params.values()):
        raise InvalidRequestError("Parameters must not contain NUL characters.")
    if not params.get("response_type"):
        raise InvalidRequestError("Missing 'response_type'.")
    if params.get("response_type") != "code":
        raise _OnlyCode(params.get("response_type"))
    if len(params.get("nonce") or "") > MAX_NONCE:
        raise InvalidRequestError("'nonce' is too long.")
    if "request" in params:
        raise RequestNotSupportedError()
    if "request_uri" in params:
        raise RequestURINotSupportedError()


class _OnlyCode(UnsupportedResponseTypeError):
    def get_error_description(self):
        return "Only response_type=code is supported."


def _hint_subject(server, hint: str | None) -> str | None:
    if not hint:
        return None
    try:
        return read_hint(hint, server.keys.public_keyset(), issuer=server.get_issuer())["sub"]
    except InvalidHint:
        raise InvalidRequestError("'id_token_hint' is not an ID token issued by this provider.") from None


def _login_url(params, account, keys: SecretKeys, now) -> str:
    """``/login`` with ``next`` = this request (+ the re-authentication marker), ``login_hint``, ``lang``."""
    query = _request_params(params)
    query.append((REAUTH_PARAM, sign_reauth(keys, now, request_digest(query))))
    next_url = url_for("oidc.authorize") + "?" + urlencode(query)
    if len(next_url) > _MAX_NEXT:
        raise InvalidRequestError("The authorization request is too long.")
    args = {"next": next_url}
    hint = params.get("login_hint")
    if hint:
        args["login_hint"] = hint[:254]
    if params.get("ui_locales"):
        args["lang"] = g.get("locale", "ru")
    if account is not None:
        args["prompt"] = "login"  # signed in, but this request wants a new sign-in
    return url_for("web.login", **args)


def _request_params(params) -> list[tuple[str, str]]:
    """The authorization request itself: every parameter but our own fields (and the marker)."""
    return [(k, v) for k, v in params.items(multi=True) if k not in _OWN_FIELDS]


def _digest(params) -> str:
    """What the re-authentication marker is bound to: this request's parameters, marker excluded."""
    return request_digest(_request_params(params))


def _consent_page(client, account, scope: str, params):
    query = urlencode([(k, v) for k, v in params.items(multi=True) if k not in ("csrf_token", "decision")])
    catalogue = current_app.extensions["idp.catalogue"]
    items = [("scope." + s) if catalogue.has("scope." + s) else ("scope.other", s) for s in scope_list(scope)]
    return render_template("oidc/consent.html", client=client, account=account, items=items,
                           action=url_for("oidc.consent") + "?" + query)
