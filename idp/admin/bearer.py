"""Who may call the admin API: a ``client_credentials`` token carrying the ``admin`` scope, or, for the
contact centre's routes (``/api/admin/accounts…``), ``support`` or ``admin``.

The check and its refusals are shared with every token-guarded API (:mod:`idp.oidc.bearer`).
"""
from __future__ import annotations

from idp.oidc.bearer import BearerError, InsufficientScope, MissingToken, require_client_token

#: The scope an admin API token must carry. A client gets it only if an admin lists it in its scopes.
ADMIN_SCOPE = "admin"
#: The contact centre's scope: find and view accounts and help their customers (``/api/admin/accounts…``),
#: nothing else of the admin API. An admin grants it to a client as it grants ``admin``.
SUPPORT_SCOPE = "support"
REALM = "idp-admin"

__all__ = ["ADMIN_SCOPE", "REALM", "SUPPORT_SCOPE", "BearerError", "InsufficientScope", "MissingToken",
           "require_admin_token", "require_support_token"]


def require_admin_token():
    """The access token of this request; raises a :class:`BearerError`."""
    return require_client_token(ADMIN_SCOPE, realm=REALM)


def require_support_token():
    """The access token of a contact-centre route: ``support`` or ``admin``; raises a :class:`BearerError`
    (403 names ``support``, the least that suffices)."""
    return require_client_token(SUPPORT_SCOPE, realm=REALM, also=(ADMIN_SCOPE,))
