"""PKCE (RFC 7636), the one place it is checked: the challenge when a code is asked for, the verifier when
it is exchanged.

Only ``S256`` (RFC 7636 §4.2; ``plain`` is for clients that cannot hash, RFC 9700 §2.1.1). Every client
must use it (RFC 9700 §2.1.1 recommends it for confidential clients too), already at the authorization
endpoint, unless an admin opted a legacy confidential client out (``OAuthClient.requires_pkce``); such a
client may still use it. A code issued without a challenge refuses a verifier (RFC 9700 §4.8), and a code
issued with one requires it.

Both checks return ``None`` when the request passes, else the OAuth error to answer with as
``(error code, description)``: the authorization endpoint and the token endpoint word their errors in
their own ways (a redirect to the client, a JSON body).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

METHOD = "S256"
#: RFC 7636 §4.1/§4.2: 43–128 characters of the unreserved set (a challenge is a base64url SHA-256: 43).
_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def challenge_problem(challenge: str | None, method: str | None, *, required: bool,
                      repeated: bool = False) -> tuple[str, str] | None:
    """The authorization request's ``code_challenge`` and ``code_challenge_method`` (``repeated``: either
    came more than once)."""
    if repeated:
        return "invalid_request", "'code_challenge' and 'code_challenge_method' must not be repeated."
    if not challenge:
        if required:
            return "invalid_request", "This client must use PKCE: 'code_challenge' is required."
        if method:
            return "invalid_request", "Missing 'code_challenge'."
        return None
    if method != METHOD:
        return "invalid_request", "'code_challenge_method' must be S256."
    if not _VALUE.match(challenge):
        return "invalid_request", "Invalid 'code_challenge'."
    return None


def verifier_problem(verifier: str | None, challenge: str | None, *, required: bool) -> tuple[str, str] | None:
    """The token request's ``code_verifier`` against the code's ``challenge`` (RFC 7636 §4.5, §4.6)."""
    if not challenge:
        if verifier:
            return ("invalid_request",
                    "The authorization request had no 'code_challenge', but a 'code_verifier' was provided.")
        if required:  # a code issued before the client was made to use PKCE
            return "invalid_request", "Missing 'code_verifier'."
        return None
    if not verifier:
        return "invalid_request", "Missing 'code_verifier'."
    if not _VALUE.match(verifier):
        return "invalid_request", "Invalid 'code_verifier'."
    if not hmac.compare_digest(s256(verifier), challenge):
        return "invalid_grant", "Code challenge failed."
    return None


def s256(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
