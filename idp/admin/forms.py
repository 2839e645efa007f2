"""The «Зарегистрировать клиента» form: reading it, checking each field, naming errors by field.

Errors carry the stable codes of :mod:`idp.clients` (``client.redirect_uri.fragment`` …), so the page,
the REST API and the CLI report a rule the same way; the page shows each under its own field.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from idp.admin.bearer import ADMIN_SCOPE, SUPPORT_SCOPE
from idp.clients import STANDARD_SCOPES, InvalidRedirectUri, validate_redirect_uri, validate_redirect_uris
from idp.clients.models import ACCESS_TOKEN_FORMATS
from idp.clients.redirect_uris import validate_backchannel_logout_uri
from idp.errors import IdpError

#: The checkboxes of the form, in order; the standard ones are ticked for a new client.
SCOPE_CHOICES = (*STANDARD_SCOPES, ADMIN_SCOPE, SUPPORT_SCOPE)
DEFAULT_SCOPES = STANDARD_SCOPES
FIELDS = ("name", "redirect_uris", "post_logout_redirect_uris", "scopes", "public", "first_party",
          "pkce_optional", "backchannel_logout_uri", "backchannel_logout_session_required", "access_token_format",
          "audiences", "web_origins", "no_web_origins")
#: Where an error that belongs to no field is shown.
FORM = "form"
#: Form fields are cut to this length before anything looks at them (the request is capped anyway).
MAX_FIELD = 32 * 1024


@dataclass(frozen=True)
class FieldError:
    code: str
    value: str | None = None  # the offending line, for URI rules


@dataclass
class ClientForm:
    name: str = ""
    redirect_uris: str = ""
    post_logout_redirect_uris: str = ""
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    public: bool = False
    first_party: bool = False
    #: A legacy confidential client let go without PKCE (unticked: required, RFC 9700 §2.1.1).
    pkce_optional: bool = False
    #: Back-Channel Logout 1.0: where logout tokens are POSTed (empty: none), and whether sid is required.
    backchannel_logout_uri: str = ""
    backchannel_logout_session_required: bool = False
    #: ``opaque`` or ``jwt`` (RFC 9068), and the resource URIs (RFC 8707) one per line, the first the default.
    access_token_format: str = "opaque"
    audiences: str = ""
    #: CORS (idp.clients.web_origins): origins one per line (empty: derived), or none at all (ticked).
    web_origins: str = ""
    no_web_origins: bool = False
    errors: dict[str, list[FieldError]] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form) -> "ClientForm":
        return cls(
            name=(form.get("name") or "")[:MAX_FIELD],
            redirect_uris=(form.get("redirect_uris") or "")[:MAX_FIELD],
            post_logout_redirect_uris=(form.get("post_logout_redirect_uris") or "")[:MAX_FIELD],
            scopes=[s[:100] for s in form.getlist("scopes")][:50],
            public=form.get("public") == "on",
            first_party=form.get("first_party") == "on",
            pkce_optional=form.get("pkce_optional") == "on",
            backchannel_logout_uri=(form.get("backchannel_logout_uri") or "").strip()[:MAX_FIELD],
            backchannel_logout_session_required=form.get("backchannel_logout_session_required") == "on",
            access_token_format=(form.get("access_token_format") or "opaque")[:20],
            audiences=(form.get("audiences") or "")[:MAX_FIELD],
            web_origins=(form.get("web_origins") or "")[:MAX_FIELD],
            no_web_origins=form.get("no_web_origins") == "on",
        )

    def validate(self) -> bool:
        """Check every field at once (so all mistakes show together); True when nothing is wrong."""
        if not self.name.strip():
            self.add("name", "client.name.required")
        self._check_uris("redirect_uris", required=True)
        self._check_uris("post_logout_redirect_uris", required=False)
        self._check_backchannel_uri()
        self._check_access_token_format()
        self._check_web_origins()
        unknown = [s for s in self.scopes if s not in SCOPE_CHOICES]
        if unknown:
            self.add("scopes", "client.scope.invalid", unknown[0])
        elif not self.scopes:
            self.add("scopes", "admin.scopes.required")
        return not self.errors

    def values(self) -> dict:
        """Keyword arguments for :func:`idp.admin.operations.register`."""
        return {"name": self.name, "redirect_uris": _lines(self.redirect_uris),
                "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris),
                "scopes": [s for s in SCOPE_CHOICES if s in self.scopes], "public": self.public,
                "first_party": self.first_party, "pkce_required": not self.pkce_optional,
                **self._backchannel_values(), **self._access_token_values(), **self._web_origin_values()}

    def _web_origin_values(self) -> dict:
        # Empty: derived (None); ticked: none at all ([]); the rules of an origin are the domain's.
        return {"web_origins": [] if self.no_web_origins else (_lines(self.web_origins) or None)}

    def _check_web_origins(self) -> None:
        if self.no_web_origins and _lines(self.web_origins):
            self.add("web_origins", "client.web_origin.exclusive")

    def _access_token_values(self) -> dict:
        return {"access_token_format": self.access_token_format, "audiences": _lines(self.audiences)}

    def _check_access_token_format(self) -> None:
        # The audiences' rules are the domain's (client.audience.*), put under their field when refused.
        if self.access_token_format not in ACCESS_TOKEN_FORMATS:
            self.add("access_token_format", "client.access_token_format.invalid")

    def _backchannel_values(self) -> dict:
        return {"backchannel_logout_uri": self.backchannel_logout_uri or None,
                "backchannel_logout_session_required": self.backchannel_logout_session_required}

    def _check_backchannel_uri(self) -> None:
        try:
            validate_backchannel_logout_uri(self.backchannel_logout_uri)
        except InvalidRedirectUri as exc:
            self.add("backchannel_logout_uri", exc.code, self.backchannel_logout_uri[:200])

    def add(self, name: str, code: str, value: str | None = None) -> None:
        self.errors.setdefault(name, []).append(FieldError(code, value))

    def add_domain_error(self, exc: IdpError) -> None:
        """A rule the domain refused after the form's own checks passed, put under its field."""
        prefixes = {"client.name": "name", "client.redirect_uri": "redirect_uris", "client.scope": "scopes",
                    "client.backchannel_logout_uri": "backchannel_logout_uri",
                    "client.audience": "audiences", "client.access_token_format": "access_token_format",
                    "client.web_origin": "web_origins",
                    "client.grant_type": "public", "client.pkce": "pkce_optional"}
        target = next((f for p, f in prefixes.items() if exc.code.startswith(p + ".")), FORM)
        self.add(target, exc.code)

    def _check_uris(self, name: str, *, required: bool) -> None:
        lines = _lines(getattr(self, name))
        bad = False
        for line in lines:
            try:
                validate_redirect_uri(line)
            except InvalidRedirectUri as exc:
                self.add(name, exc.code, line[:200])
                bad = True
        if not bad:
            try:
                validate_redirect_uris(lines, required=required)
            except InvalidRedirectUri as exc:
                self.add(name, exc.code)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
