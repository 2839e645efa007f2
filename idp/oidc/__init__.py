"""OpenID Connect provider: authorization code flow (+PKCE), tokens, UserInfo, revocation, introspection,
RP-initiated logout, consent.

    protocol/         the protocol API, a Flask app of its own beside the pages (no session, CSRF, templates)
      app.py            its routes, hooks, error handling; Dispatcher (which paths are the protocol API's)
      token.py          the token endpoint → grants/authorization_code.py, refresh_token.py,
                        client_credentials.py (one module per grant)
      userinfo.py  introspection.py  revocation.py
      client_auth.py    client authentication (basic, post, none), for every endpoint
      bearer.py         bearer tokens at a protected resource (UserInfo, the token-guarded APIs)
      issuing.py        a token response, its row, its audit event, the ID token
      errors.py         OAuth error codes, statuses, challenges;  context.py  Provider, Call, the form
    store/            the protocol's SQL behind one narrow interface (records, writes, connections)
    pkce.py           PKCE (RFC 7636): the challenge at authorization, the verifier at the token endpoint
    server.py         Authlib's server for the authorization endpoint and logout;  hooks.py  its hooks
    authorize.py      the authorization endpoint;  interaction.py  login / consent / issue decisions
    views.py          the pages' blueprint: authorize, consent, logout, connected applications
    consent.py        remembered consent;  tokens.py  token values and rules;  id_token.py  signing, hints
    scopes.py         scopes → claims;  discovery.py  the discovery document;  bearer.py  token-guarded APIs
    setup.py          init_oidc(app): keys, the server, the pages' blueprint; returns the protocol API

Public API for other packages (admin, accounts, web): the names below; the app factory calls
:func:`idp.oidc.setup.init_oidc`.
"""
from idp.oidc.consent import grant_consent, list_consents, revoke_consent
from idp.oidc.models import AuthorizationCode, Consent, OAuthToken
from idp.oidc.tokens import revoke_for_account


__all__ = ["AuthorizationCode", "Consent", "OAuthToken", "grant_consent", "list_consents",
           "revoke_consent", "revoke_for_account"]
