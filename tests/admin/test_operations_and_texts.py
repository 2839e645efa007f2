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


def _dynamic_codes() -> set[str]:
    """Texts the held, refused and failed-message pages pick by a value (``t('policy.reason.' ~ …)``)."""
    from idp.admin.casework import PolicyNotFound
    from idp.delivery.failures import FILTERS, DeliveryNotFound, NotRequeueable
    from idp.delivery.models import DEAD, QUEUED, SENDING, SENT
    from idp.policies import KINDS, PRODUCTS, REASONS
    from idp.policies.eligibility import HELD_REASONS
    from idp.policies.intake import RESULTS, UNCHANGED
    from idp.policies.models import STATES

    codes = {f"policy.reason.{r}" for r in REASONS} | {f"admin.hint.{r}" for r in HELD_REASONS}
    codes |= {f"policy.kind.{k}" for k in KINDS} | {f"policy.product.{p}" for p in PRODUCTS}
    codes |= {f"admin.policy.state.{s}" for s in STATES}
    codes |= {f"admin.recheck.{r}" for r in RESULTS if r != UNCHANGED}
    codes |= {f"admin.deliveries.filter.{f}" for f in FILTERS}
    codes |= {f"admin.deliveries.status.{s}" for s in (QUEUED, SENDING, SENT, DEAD)}
    codes |= {f"admin.deliveries.requeued.{s}" for s in ("queued", "sent", "dead")}
    codes |= {f"admin.deliveries.channel.{c}" for c in ("email", "sms")}
    codes |= {f"admin.conflict.{c}" for c in ("email", "phone")}
    codes |= {f"admin.conflict.person.{j}" for j in ("yes", "no", "unknown")}
    codes |= {f"admin.purpose.{path.name}" for path in (TEMPLATES.parent / "messages").iterdir() if path.is_dir()}
    codes |= {f"error.query.{name}" for name in ("page", "per_page", "status", "reason", "invalid")}
    codes |= {f"error.{cls.code}" for cls in (PolicyNotFound, DeliveryNotFound, NotRequeueable)}
    return codes | {"admin.deliveries.not_requeueable", "error.policy.concurrent_change"}


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_texts_picked_by_value_exist_in_both_languages(app, locale):
    catalogue = app.extensions["idp.catalogue"]
    codes = _dynamic_codes()
    assert sorted(code for code in codes if not catalogue.has(code)) == []
    if locale == "en":
        assert not [c for c in codes if re.search("[а-яё]", catalogue.text("en", c), re.I)]
