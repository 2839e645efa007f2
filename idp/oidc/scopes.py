"""Scopes and the claims they release (OIDC Core §5.4), and the UserInfo document (§5.3.2).

Scopes this provider does not understand are ignored (OIDC Core §3.1.2.1); ``offline_access`` (§11)
is what earns a refresh token. A claim without a value is left out, never sent as null (§5.3.2).
"""
from __future__ import annotations

from typing import Callable

from idp.accounts import Account
from idp.clients import STANDARD_SCOPES
from idp.policies.claims import CLAIM as POLICIES_CLAIM
from idp.policies.claims import SCOPE as POLICIES_SCOPE

#: The scopes that concern a customer; a ``client_credentials`` token (no customer) never carries them.
USER_SCOPES = frozenset(STANDARD_SCOPES) | {POLICIES_SCOPE}

#: Claims released by each scope (OIDC Core §5.4), in the order a consent page lists them.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name",),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "offline_access": (),
    POLICIES_SCOPE: (POLICIES_CLAIM,),  # the customer's eligible policies (idp.policies.claims_for)
}

#: Every claim this provider can return, for discovery's ``claims_supported``.
CLAIMS_SUPPORTED = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "name",
                    "email", "email_verified", "phone_number", "phone_number_verified", POLICIES_CLAIM)


def scope_list(scope: str | None) -> list[str]:
    """A scope string as a list, duplicates removed, order kept."""
    seen: list[str] = []
    for item in (scope or "").split():
        if item not in seen:
            seen.append(item)
    return seen


def is_openid(scope: str | None) -> bool:
    """Whether ``scope`` is an OpenID Connect request (OIDC Core §3.1.2.1): it earns an ID token and UserInfo."""
    return "openid" in scope_list(scope)


def user_claims(account: Account, scope: str | None, policies: Callable[[], list[dict]]) -> dict:
    """The claims ``scope`` releases about ``account``; ``sub`` always (OIDC Core §5.3.2). ``policies``
    reads the account's ``policies`` claim (asked only when the scope has it)."""
    scopes = set(scope_list(scope))
    claims: dict = {"sub": account.subject}
    if "profile" in scopes and account.full_name:
        claims["name"] = account.full_name
    if "email" in scopes and account.email:
        claims["email"] = account.email
        claims["email_verified"] = bool(account.email_verified)
    if "phone" in scopes and account.phone:
        claims["phone_number"] = account.phone  # E.164 already (idp.accounts.logins)
        claims["phone_number_verified"] = bool(account.phone_verified)
    if POLICIES_SCOPE in scopes:
        claims[POLICIES_CLAIM] = policies()  # a list, empty when no policy is eligible
    return claims


def machine_scope(client_scopes: list[str], requested: str | None) -> str:
    """The scope of a ``client_credentials`` token: what was asked (or else everything allowed) that the
    client may have, minus the customer scopes (RFC 6749 §3.3 lets the server narrow a request)."""
    allowed = [s for s in client_scopes if s not in USER_SCOPES]
    wanted = scope_list(requested) if requested else allowed
    return " ".join(s for s in wanted if s in allowed)


def customer_scope(scope: str | None) -> str:
    """The customer scopes of ``scope``: what a token issued on a customer's behalf may carry."""
    return " ".join(s for s in scope_list(scope) if s in USER_SCOPES)


def id_token_claims(account: Account, scope: str | None, policies: Callable[[], list[dict]]) -> dict:
    """Customer claims carried in the ID token itself: the policies, when their scope was granted."""
    if POLICIES_SCOPE in scope_list(scope):
        return {POLICIES_CLAIM: policies()}
    return {}
