"""The «Изменить клиента» form: the registration form's fields and rules, filled from a registered client.

Whether a client is public cannot change (register a new one instead), so the form carries it only to show it;
a client without the authorization-code grant (a service client) needs no redirect URI; scopes the client
already has outside the usual choices stay on offer, so saving the form never drops one silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from idp.admin.forms import SCOPE_CHOICES, ClientForm, _lines
from idp.clients import OAuthClient


@dataclass
class ClientEditForm(ClientForm):
    redirect_required: bool = True
    scope_choices: tuple[str, ...] = field(default_factory=lambda: tuple(SCOPE_CHOICES))

    @classmethod
    def of_client(cls, client: OAuthClient) -> "ClientEditForm":
        """The form as the client stands now."""
        return cls(name=client.name, redirect_uris="\n".join(client.redirect_uris),
                   post_logout_redirect_uris="\n".join(client.post_logout_redirect_uris or []),
                   scopes=list(client.scopes), public=client.public, first_party=client.first_party,
                   pkce_optional=not client.requires_pkce,
                   backchannel_logout_uri=client.backchannel_logout_uri or "",
                   backchannel_logout_session_required=client.backchannel_logout_session_required,
                   access_token_format=client.access_token_format, audiences="\n".join(client.audiences or []),
                   web_origins="\n".join(client.web_origins or []), no_web_origins=client.web_origins == [],
                   **cls._rules_of(client))

    @classmethod
    def posted(cls, form, client: OAuthClient) -> "ClientEditForm":
        """The posted form for ``client``; ``public`` is the client's, whatever was posted."""
        posted = ClientForm.from_form(form)
        return cls(name=posted.name, redirect_uris=posted.redirect_uris,
                   post_logout_redirect_uris=posted.post_logout_redirect_uris, scopes=posted.scopes,
                   public=client.public, first_party=posted.first_party, pkce_optional=posted.pkce_optional,
                   backchannel_logout_uri=posted.backchannel_logout_uri,
                   backchannel_logout_session_required=posted.backchannel_logout_session_required,
                   # Absent from the post (a form of an older page): as the client stands.
                   access_token_format=(posted.access_token_format if "access_token_format" in form
                                        else client.access_token_format),
                   audiences=posted.audiences if "audiences" in form else "\n".join(client.audiences or []),
                   **(_posted_web_origins(posted) if "web_origins" in form else
                      {"web_origins": "\n".join(client.web_origins or []),
                       "no_web_origins": client.web_origins == []}),
                   **cls._rules_of(client))

    @staticmethod
    def _rules_of(client: OAuthClient) -> dict:
        extra = tuple(s for s in client.scopes if s not in SCOPE_CHOICES)
        return {"redirect_required": "authorization_code" in client.grant_types,
                "scope_choices": (*SCOPE_CHOICES, *extra)}

    def validate(self) -> bool:
        if not self.name.strip():
            self.add("name", "client.name.required")
        self._check_uris("redirect_uris", required=self.redirect_required)
        self._check_uris("post_logout_redirect_uris", required=False)
        self._check_backchannel_uri()
        self._check_access_token_format()
        self._check_web_origins()
        unknown = [s for s in self.scopes if s not in self.scope_choices]
        if unknown:
            self.add("scopes", "client.scope.invalid", unknown[0])
        elif not self.scopes:
            self.add("scopes", "admin.scopes.required")
        return not self.errors

    def values(self) -> dict:
        """Keyword arguments for :func:`idp.admin.operations.change` (every editable field, public not)."""
        return {"name": self.name, "redirect_uris": _lines(self.redirect_uris),
                "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris),
                "scopes": [s for s in self.scope_choices if s in self.scopes], "first_party": self.first_party,
                "pkce_required": not self.pkce_optional, **self._backchannel_values(),
                **self._access_token_values(), **self._web_origin_values()}


def _posted_web_origins(posted: ClientForm) -> dict:
    return {"web_origins": posted.web_origins, "no_web_origins": posted.no_web_origins}
