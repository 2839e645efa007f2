"""OpenID Connect provider: authorization code flow (+PKCE), tokens, UserInfo, revocation, introspection,
RP-initiated logout, consent. Built on Authlib's server classes; every Authlib hook is in
:mod:`idp.oidc.hooks`.

    server.py       the AuthorizationServer, its grants and endpoints; ``init_oidc(app)``
    hooks.py        ProviderHooks: the one mixin of Authlib hooks
    grants.py       authorization_code (+OpenID, S256 PKCE), refresh_token (rotation), client_credentials
    endpoints.py    UserInfo, revocation (RFC 7009), introspection (RFC 7662), end session; build_protector()
    authorize.py    the authorization endpoint;  interaction.py  login / consent / issue decisions
    consent.py      remembered consent;  tokens.py  opaque tokens by hash;  id_token.py  signing, hints
    scopes.py       scopes → claims;  discovery.py  the discovery document;  views.py  the blueprint

Public API for other packages (admin, accounts): the functions below; ``build_protector`` for
resource servers inside the provider.
"""
from idp.oidc.consent import grant_consent, list_consents, revoke_consent
from idp.oidc.models import AuthorizationCode, Consent, OAuthToken
from idp.oidc.tokens import revoke_for_account


def init_oidc(app):
    """Load the signing keys and register the protocol endpoints on ``app`` (see :mod:`idp.oidc.server`)."""
    from idp.oidc.server import init_oidc as _init

    return _init(app)


__all__ = ["AuthorizationCode", "Consent", "OAuthToken", "grant_consent", "init_oidc", "list_consents",
           "revoke_consent", "revoke_for_account"]
