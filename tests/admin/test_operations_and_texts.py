"""The shared operations (one transaction with the audit event) and the admin pages' texts, ru and en."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from idp.admin import operations
from idp.admin.forms import FIELDS, SCOPE_CHOICES
from idp.clients import ClientExists

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "admin"


def test_a_lost_race_for_a_client_id_is_409_not_500(app, make_client, monkeypatch):
    """Two registrations choosing one client_id at once: the unique index decides, the loser gets 409."""
    import idp.clients.service as service
    from idp.audit import search
    from idp.extensions import db

    make_client(client_id="dms-portal")
    # Both passed the existence check before either wrote.
    monkeypatch.setattr(service, "find_client", lambda client_id: None)
    with app.test_request_context():
        with pytest.raises(ClientExists):
            operations.register(app.extensions["idp"], operations.Actor(via="api", client_id="robot"),
                                name="ДМС", client_id="dms-portal", redirect_uris=["https://dms.example/cb"])
        assert search(event="client.created") == []
        assert db.session.execute(db.text("select count(*) from oauth_clients")).scalar() == 1


def _codes_used() -> set[str]:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\('([^']+)'\s*[),]""", template.read_text(encoding="utf-8")))
    used |= {f"admin.field.{name}" for name in FIELDS}
    used |= {f"admin.scope.{scope}" for scope in SCOPE_CHOICES}
    return used


def _error_codes_shown() -> set[str]:
    """Every code the form can put under a field (rendered as ``error.<code>``)."""
    from idp.clients import redirect_uris, service

    sources = Path(redirect_uris.__file__).read_text() + Path(service.__file__).read_text()
    domain = set(re.findall(r'code="(client\.[a-z_.]+)"', sources))
    return {f"error.{code}" for code in domain | {"admin.scopes.required", "admin.forbidden"}}


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_text_of_the_admin_pages_exists_in_both_languages(app, locale):
    catalogue = app.extensions["idp.catalogue"]
    codes = _codes_used() | _error_codes_shown()
    assert len(codes) > 60
    with app.test_request_context():
        missing = sorted(code for code in codes if catalogue.text(locale, code) == code)
    assert missing == []
    # No Russian left on an English page's own texts (technical words like client_id are the same).
    if locale == "en":
        assert not [c for c in codes if re.search("[а-яё]", catalogue.text("en", c), re.I)]
