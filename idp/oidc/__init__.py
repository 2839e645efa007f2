"""OpenID Connect provider: authorization code flow, tokens, UserInfo, revocation, introspection, logout."""
