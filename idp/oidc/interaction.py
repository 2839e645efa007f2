"""The hand-over between the protocol and the hosted pages: what the authorization endpoint does next.

Authorize validates the request (Authlib), then asks :func:`next_step`:

* ``LOGIN``   — nobody is signed in, ``prompt=login``, the sign-in is older than ``max_age``, or
  ``id_token_hint`` names someone else (OIDC Core §3.1.2.1). The browser goes to ``/login`` with
  ``next`` = this very authorization request plus a signed *re-authentication marker* (the moment of
  the hand-over); back at authorize, a sign-in at or after that moment satisfies ``prompt=login`` and
  ``max_age``, so the hand-over cannot loop. The marker is bound to the request it was made for (a digest
  of its parameters): pasted into another request it counts for nothing, and the customer signs in again.
* ``CONSENT`` — a third-party client without remembered consent for these scopes, or ``prompt=consent``.
* ``ISSUE``   — a code goes back to the client.

With ``prompt=none`` nothing is shown: the first two become ``login_required`` / ``consent_required``
(OIDC Core §3.1.2.6), sent back to the client.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import datetime

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from itsdangerous import BadSignature, URLSafeSerializer

from idp.accounts import Account
from idp.clients import OAuthClient
from idp.oidc.consent import consent_needed
from idp.oidc.models import unix
from idp.secret_keys import SecretKeys
from idp.sessions import BrowserSession

LOGIN, CONSENT, ISSUE = "login", "consent", "issue"
#: The query parameter carrying the re-authentication marker through ``/login``.
REAUTH_PARAM = "idp_reauth"
#: A marker older than this is ignored (the customer took an hour to sign in: ask again).
REAUTH_MAX_AGE = 3600
_SALT = "idp.oidc.reauth"


def parse_prompts(value: str | None) -> set[str]:
    """``prompt`` as a set (OIDC Core §3.1.2.1); ``none`` alone or not at all. Unknown values are ignored."""
    prompts = set((value or "").split())
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with other values.")
    return prompts


def parse_max_age(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("'max_age' must be a non-negative whole number of seconds.")
    return int(value)


def request_digest(params) -> str:
    """A digest of an authorization request's parameters (``(name, value)`` pairs, in any order): the
    re-authentication marker is bound to it, so it is good only for the very request it was made for."""
    pairs = sorted((str(k), str(v)) for k, v in params)
    canonical = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    return urlsafe_b64encode(hashlib.sha256(canonical.encode("utf-8")).digest()).decode("ascii").rstrip("=")


def sign_reauth(keys: SecretKeys, now: datetime, digest: str) -> str:
    """The marker for the request whose :func:`request_digest` is ``digest``, made at ``now`` (signed with
    the current secret key)."""
    return URLSafeSerializer(keys.signing_keys, salt=_SALT).dumps([unix(now), digest])


def read_reauth(keys: SecretKeys, value: str | None, now: datetime, digest: str) -> int | None:
    """The hand-over moment (Unix seconds) in a genuine, recent marker made for this request
    (``digest``) and signed with an accepted secret key; None otherwise (no marker, forged, stale, or made
    for another request)."""
    if not value or len(value) > 300:
        return None
    try:
        payload = URLSafeSerializer(keys.signing_keys, salt=_SALT).loads(value)
    except BadSignature:
        return None
    if not isinstance(payload, list) or len(payload) != 2:
        return None
    moment, bound_to = payload
    if not isinstance(moment, int) or isinstance(moment, bool) or not isinstance(bound_to, str):
        return None
    if not hmac.compare_digest(bound_to.encode("utf-8"), digest.encode("utf-8")):
        return None
    if not 0 <= unix(now) - moment <= REAUTH_MAX_AGE:
        return None
    return moment


@dataclass
class Situation:
    """Everything :func:`next_step` weighs; built by the authorize view from the request and the session."""

    client: OAuthClient
    account: Account | None
    signed_in: BrowserSession | None
    now: datetime
    scope: str
    prompts: set[str] = field(default_factory=set)
    max_age: int | None = None
    hint_subject: str | None = None
    reauth_since: int | None = None
    consent_given: bool = False


def next_step(s: Situation) -> str:
    silent = "none" in s.prompts
    if s.account is None or s.signed_in is None:
        if silent:
            raise LoginRequiredError()
        return LOGIN
    auth_time = unix(s.signed_in.auth_time)
    fresh = s.reauth_since is not None and auth_time >= s.reauth_since
    if s.hint_subject is not None and s.hint_subject != s.account.subject:
        # The hinted customer is not the one signed in; after a fresh sign-in as someone else, give up.
        if silent or fresh:
            raise LoginRequiredError()
        return LOGIN
    # Times are whole seconds, so an age that reads max_age may truly be up to a second more: ask again then
    # too (early is allowed, late is not). max_age=0 therefore always asks, like prompt=login (OIDC Core).
    too_old = s.max_age is not None and unix(s.now) - auth_time >= s.max_age
    if ("login" in s.prompts or too_old) and not fresh:
        if silent:
            raise LoginRequiredError()
        return LOGIN
    if not s.consent_given and consent_needed(s.client, s.account.id, s.scope, prompts=s.prompts):
        if silent:
            raise ConsentRequiredError()
        return CONSENT
    return ISSUE
