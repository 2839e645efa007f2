"""Who may call the admin API: a ``client_credentials`` token carrying the ``admin`` scope.

The check and its refusals are shared with every token-guarded API (:mod:`idp.oidc.bearer`).
"""
from __future__ import annotations

from idp.oidc.bearer import BearerError, InsufficientScope, MissingToken, require_client_token

#: The scope an admin API token must carry. A client gets it only if an admin lists it in its scopes.
ADMIN_SCOPE = "admin"
REALM = "idp-admin"

__all__ = ["ADMIN_SCOPE", "REALM", "BearerError", "InsufficientScope", "MissingToken", "require_admin_token"]


def require_admin_token():
    """The access token of this request; raises a :class:`BearerError`."""
    return require_client_token(ADMIN_SCOPE, realm=REALM)
