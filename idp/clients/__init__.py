"""OAuth clients (relying parties): registration, secrets, redirect-URI rules.

The public API, used by the CLI (``idp clients …``), the admin REST API and web area, and the OIDC
endpoints::

    create_client, get_client, find_client, find_active_client, list_clients, update_client,
    rotate_secret, disable_client, enable_client, describe_client
    validate_redirect_uri, validate_redirect_uris
    check_secret, hash_secret
    errors: ClientNotFound (404), ClientExists (409), InvalidClientSettings (400), InvalidRedirectUri (400)
"""
from idp.clients.models import GRANT_TYPES, STANDARD_SCOPES, OAuthClient
from idp.clients.redirect_uris import (InvalidRedirectUri, is_registered, validate_redirect_uri,
                                       validate_redirect_uris)
from idp.clients.secrets import check_secret, generate_secret, hash_secret
from idp.clients.service import (ClientExists, ClientNotFound, ClientWithSecret, InvalidClientSettings,
                                 create_client, describe_client, disable_client, enable_client,
                                 find_active_client, find_client, get_client, list_clients, rotate_secret,
                                 update_client)

__all__ = [
    "GRANT_TYPES", "STANDARD_SCOPES", "ClientExists", "ClientNotFound", "ClientWithSecret",
    "InvalidClientSettings", "InvalidRedirectUri", "OAuthClient", "check_secret", "create_client",
    "describe_client", "disable_client", "enable_client", "find_active_client", "find_client",
    "generate_secret", "get_client", "hash_secret", "is_registered", "list_clients", "rotate_secret", "update_client",
    "validate_redirect_uri", "validate_redirect_uris",
]
