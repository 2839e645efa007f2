"""The portal's settings, read once from ``DMS_*`` environment variables and checked at start-up."""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: What the portal asks for when ``DMS_SCOPE`` is unset; ``policies`` is added when the provider offers it.
DEFAULT_SCOPE = "openid profile email phone offline_access"
#: The scope that makes the provider return the customer's policies (a later issue of the provider).
POLICIES_SCOPE = "policies"


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class PortalConfig:
    #: The provider's issuer identifier; discovery is read from ``<issuer>/.well-known/openid-configuration``.
    issuer: str = ""
    #: This portal's client_id at the provider (``idp clients create`` prints it).
    client_id: str = ""
    #: The client secret, shown once by ``idp clients create``; empty means a public client (PKCE only).
    client_secret: str = ""
    #: Signs the portal's own session cookie. Random per process when unset (sessions end on restart).
    secret_key: str = ""
    #: Where the portal is reachable; the redirect URI is ``<base>/callback``, post-logout ``<base>/``.
    base_url: str = "http://127.0.0.1:5001"
    #: Space-separated scopes; empty means DEFAULT_SCOPE plus ``policies`` if the provider supports it.
    scope: str = ""
    #: Seconds to wait for the provider on back-channel calls (discovery, token, userinfo, revocation).
    http_timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "PortalConfig":
        env = os.environ if environ is None else environ
        values = {f.name: env["DMS_" + f.name.upper()] for f in dataclasses.fields(cls)
                  if env.get("DMS_" + f.name.upper())}
        if "http_timeout" in values:
            try:
                values["http_timeout"] = float(values["http_timeout"])
            except ValueError as exc:
                raise ConfigError(f"DMS_HTTP_TIMEOUT must be a number of seconds, "
                                  f"got {values['http_timeout']!r}") from exc
        values.update(overrides)
        return cls(**values).validated()

    def validated(self) -> "PortalConfig":
        """Normalise URLs, refuse what cannot work and fill the development-only secret key."""
        c = dataclasses.replace(self, issuer=self.issuer.rstrip("/"), base_url=self.base_url.rstrip("/"),
                                scope=" ".join(self.scope.split()))
        for name in ("issuer", "base_url"):
            value = getattr(c, name)
            if not value:
                raise ConfigError(f"DMS_{name.upper()} is not set (e.g. http://127.0.0.1:5000)")
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ConfigError(f"DMS_{name.upper()} must be an http(s) URL without query, got {value!r}")
        if not c.client_id:
            raise ConfigError("DMS_CLIENT_ID is not set: register the portal with "
                              "`idp clients create --name … --redirect-uri <base>/callback` first")
        if c.scope and "openid" not in c.scope.split():
            raise ConfigError("DMS_SCOPE must contain 'openid': the portal signs in with OpenID Connect")
        if c.http_timeout <= 0:
            raise ConfigError("DMS_HTTP_TIMEOUT must be positive")
        if not c.secret_key:
            # No fixed fallback anywhere: an unset key only costs the sessions of this process.
            log.warning("DMS_SECRET_KEY is not set; using a random key for this process "
                        "(everyone is signed out when the portal restarts)")
            c = dataclasses.replace(c, secret_key=secrets.token_urlsafe(32))
        return c

    @property
    def redirect_uri(self) -> str:
        return self.base_url + "/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.base_url + "/"

    @property
    def metadata_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def scope_for(self, scopes_supported: list | None) -> str:
        """The scope to request: ``DMS_SCOPE`` as set, or the default plus ``policies`` when offered."""
        if self.scope:
            return self.scope
        if scopes_supported and POLICIES_SCOPE in scopes_supported:
            return f"{DEFAULT_SCOPE} {POLICIES_SCOPE}"
        return DEFAULT_SCOPE
