"""Consent: what a customer allowed a third-party client to receive (OIDC Core §3.1.2.4).

First-party clients (``OAuthClient.first_party``, set by an admin) are not asked. For the others the
choice is remembered per (account, client) as a set of scopes; a request for more scopes asks again.
Withdrawing consent deletes the record and revokes every token the client holds for the customer.
Plain functions: the caller commits.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from idp.clients import OAuthClient
from idp.extensions import db
from idp.oidc import tokens
from idp.oidc.models import Consent
from idp.oidc.scopes import scope_list


def find_consent(account_id: int, client_pk: int) -> Consent | None:
    query = select(Consent).where(Consent.account_id == account_id, Consent.client_pk == client_pk)
    return db.session.execute(query).unique().scalar_one_or_none()


def consent_needed(client: OAuthClient, account_id: int, scope: str, *, prompts: set[str]) -> bool:
    """Whether the customer must be asked: never for a first-party client unless the client itself asks
    with ``prompt=consent``; for others, when nothing remembered covers every requested scope."""
    if "consent" in prompts:
        return True
    if client.first_party:
        return False
    remembered = find_consent(account_id, client.id)
    return remembered is None or not set(scope_list(scope)) <= remembered.scopes


def grant_consent(account_id: int, client: OAuthClient, scope: str, *, now: datetime) -> Consent:
    """Remember that the customer allowed ``scope`` (added to what was allowed before). Flushed."""
    consent = find_consent(account_id, client.id)
    if consent is None:
        consent = Consent(account_id=account_id, client_pk=client.id, scope="", granted_at=now)
        db.session.add(consent)
    merged = scope_list(consent.scope) + [s for s in scope_list(scope) if s not in consent.scopes]
    consent.scope = " ".join(merged)
    consent.granted_at = now
    db.session.flush()
    return consent


def list_consents(account_id: int) -> list[Consent]:
    """The clients a customer has allowed, newest choice first."""
    query = (select(Consent).where(Consent.account_id == account_id)
             .order_by(Consent.granted_at.desc(), Consent.id.desc()))
    return list(db.session.execute(query).unique().scalars())


def revoke_consent(account_id: int, client_pk: int, *, now: datetime) -> bool:
    """Forget the consent and revoke the client's tokens for this customer; False if there was none."""
    result = db.session.execute(delete(Consent).where(Consent.account_id == account_id,
                                                      Consent.client_pk == client_pk))
    tokens.revoke_for_account(account_id, client_pk, now=now)
    return result.rowcount > 0
