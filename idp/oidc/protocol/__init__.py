"""The protocol API: the token, UserInfo, introspection and revocation endpoints, discovery and the JWKS, as
an application of its own beside the pages (see :mod:`idp.oidc.protocol.app` and the README's
"Architecture")."""
