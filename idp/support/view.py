"""What an operator sees of an account (JSON-ready, masked, never a secret), and the audit of every look."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from idp.accounts import Account
from idp.audit import AuditEvent, record
from idp.clients.models import OAuthClient
from idp.delivery import mask_recipient
from idp.delivery.failures import describe as describe_delivery
from idp.delivery.failures import listing
from idp.extensions import db
from idp.oidc import list_consents
from idp.passwords.signin import current_temporary
from idp.policies.eligibility import REASONS
from idp.policies.models import Policy
from idp.sessions import BrowserSession
from idp.support.service import Operator

WAITING = "waiting"  # no password yet, no usable temporary password: waiting for the first one
TEMPORARY_PENDING = "temporary_pending"  # a temporary password was sent and is still usable
ACTIVE = "active"
BLOCKED = "blocked"
STATES = (WAITING, TEMPORARY_PENDING, ACTIVE, BLOCKED)
#: How many messages and audit events the page shows (newest first).
MAX_MESSAGES = 100
MAX_EVENTS = 20
#: Message fields the page shows: never the text, the payload or an address in full.
_MESSAGE_FIELDS = ("id", "channel", "recipient", "status", "state", "attempts", "next_attempt_at", "last_error",
                   "provider_message_id", "created_at", "sent_at", "outcome_at", "outcome_detail")


def record_view(operator: Operator, account: Account, now: datetime) -> None:
    """Audit ``support.viewed``: who (the operator's login, via web/api/cli) looked at whom (the account).
    Added to the caller's transaction; the caller commits."""
    record("support.viewed", at=now, origin=operator.origin, account_id=account.id, client_id=operator.client_id,
           **operator.details())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def state_of(account: Account, now: datetime) -> dict:
    """``{"state", "since", "temporary_expires_at"}``: blocked, active (a permanent password), a temporary
    password pending (with its expiry), or waiting for the first temporary password."""
    none = {"temporary_expires_at": None, "temporary_channel": None}
    if account.disabled_at is not None:
        return {"state": BLOCKED, "since": _iso(account.disabled_at), **none}
    if account.password_hash:
        return {"state": ACTIVE, "since": _iso(account.password_changed_at), **none}
    temp = current_temporary(account.id)
    if temp is not None and temp.usable(now):
        return {"state": TEMPORARY_PENDING, "since": _iso(temp.created_at),
                "temporary_expires_at": _iso(temp.expires_at), "temporary_channel": temp.channel}
    return {"state": WAITING, "since": _iso(account.created_at), **none}


def _policies(account: Account) -> list[dict]:
    """Policies attached to the account, and those held or refused for its e-mail or phone."""
    whose = [Policy.account_id == account.id]
    if account.email:
        whose.append(Policy.email_key == account.email)
    if account.phone:
        whose.append(Policy.phone_key == account.phone)
    rows = db.session.execute(select(Policy).where(or_(*whose)).order_by(Policy.id)).scalars()
    return [{"number": p.number, "kind": p.kind, "product": p.product, "status": p.status,
             "start_date": p.start_date.isoformat(), "end_date": p.end_date.isoformat(),
             "state": p.state, "reason": p.reason, "reason_text": REASONS.get(p.reason) if p.reason else None,
             "attached_here": p.account_id == account.id, "updated_at": _iso(p.updated_at)} for p in rows]


def _messages(account: Account) -> list[dict]:
    query = listing(account_id=account.id).limit(MAX_MESSAGES)
    shown = []
    for row in db.session.execute(query).scalars():
        described = describe_delivery(row)
        shown.append({"purpose": row.template, **{key: described[key] for key in _MESSAGE_FIELDS}})
    return shown


def _sessions(services, account: Account, now: datetime) -> list[dict]:
    idle = timedelta(seconds=services.settings.session_idle_timeout)
    rows = db.session.execute(select(BrowserSession).where(BrowserSession.account_id == account.id,
                                                           BrowserSession.ended_at.is_(None))
                              .order_by(BrowserSession.auth_time.desc())).scalars()
    return [{"signed_in_at": _iso(row.auth_time), "last_seen_at": _iso(row.last_seen_at),
             "expires_at": _iso(min(row.expires_at, row.last_seen_at + idle))}
            for row in rows if row.live(now, idle)]


def _consents(account: Account) -> list[dict]:
    return [{"client": consent.client.name, "client_id": consent.client.client_id,
             "scopes": sorted(consent.scopes), "granted_at": _iso(consent.granted_at)}
            for consent in list_consents(account.id)]


def _events(account: Account) -> list[dict]:
    rows = list(db.session.execute(select(AuditEvent).where(AuditEvent.account_id == account.id)
                                   .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(MAX_EVENTS))
                .scalars())
    client_ids = {row.client_id for row in rows if row.client_id}
    names = dict(db.session.execute(select(OAuthClient.client_id, OAuthClient.name)
                                    .where(OAuthClient.client_id.in_(client_ids))).all()) if client_ids else {}
    login = mask_recipient(account.login) if account.login else None
    shown = []
    for row in rows:
        details = {key: value for key, value in (row.details or {}).items()
                   if not key.endswith("account_id") and key != "operator_client_id"}
        shown.append({"at": _iso(row.at), "event": row.event, "login": login,
                      "client": names.get(row.client_id, row.client_id) if row.client_id else None,
                      "ip": row.ip, "details": details})
    return shown


def account_view(services, account: Account, now: datetime) -> dict:
    """The account page's data, JSON-ready: the contacts masked; the state; the policies with what
    eligibility decided; every message (never its text or a password); the sign-in lockouts with seconds
    left; open sessions; consented applications; the last audit events with logins and client names."""
    from idp.support.actions import lockouts

    return {
        "subject": account.subject,
        "email": mask_recipient(account.email) if account.email else None,
        "email_verified": account.email_verified,
        "phone": mask_recipient(account.phone) if account.phone else None,
        "phone_verified": account.phone_verified,
        "full_name": account.full_name,
        "created_at": _iso(account.created_at),
        **state_of(account, now),
        "policies": _policies(account),
        "messages": _messages(account),
        "lockouts": [{key: value for key, value in row.items() if key != "key"}
                     for row in lockouts(services, account, now) if row["seconds_left"] > 0],
        "sessions": _sessions(services, account, now),
        "applications": _consents(account),
        "events": _events(account),
    }
