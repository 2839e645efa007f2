"""«Забыли пароль?»: issue a temporary password and send it to the channel of the login typed.

The request a customer makes must not reveal whether the login is an account, in its answer or in its
time. So it is split in two:

1. :func:`request_temporary_password`, in the web request, does the same work for every login: the login
   is parsed, the limits are counted, the request is written (sealed) to ``reset_requests`` and
   committed. Nothing in it looks at the accounts.
2. :func:`issue_pending` turns written requests into temporary passwords and their messages. The
   delivery worker (``idp deliveries run``) calls it before each pass of the outbox dispatcher, which
   knows nothing of passwords; in inline mode (the demo) the web request also calls it, for its own
   reset request only, right after writing it.
   Only here is the login looked up; a request for a login that is not an account is simply consumed.

A request is claimed by deleting its row in the same transaction that writes the temporary password and
its outbox message, so it is issued exactly once however many workers run, and nothing of it is left
readable afterwards (an unknown login someone typed is not kept).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from idp.accounts import find_by_login, parse_login
from idp.accounts.logins import Login
from idp.audit import Origin, record
from idp.delivery import EMAIL, SMS, channel_backlogged, dispatch_inline, enqueue, supersede
from idp.delivery.models import Delivery
from idp.delivery.sealing import Sealer, SealError
from idp.extensions import db
from idp.passwords import temporary
from idp.passwords.models import ResetRequest, TemporaryPassword
from idp.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResetResult:
    login: Login
    #: False when messages on the login's channel are waiting for a retry (the transport is failing): the
    #: customer is told it may take a while. A fact about the channel, the same for known and unknown logins.
    delivered: bool = True
    #: Refused by the login's ceiling (all addresses together, far above one customer's needs): the customer
    #: is told to use the newest password received or call the contact centre. Counted from what was typed,
    #: so it says nothing about whether the login is an account.
    login_ceiling: bool = False


def request_temporary_password(raw_login: str, services: Services, origin: Origin | None = None) -> ResetResult:
    """Take a reset request for ``raw_login``; raises ``InvalidLogin`` for garbage.

    The same statements run for every login, known or not. Past a limit nothing is written but the audit
    event; the answer is the same as always, except past the login's ceiling (see :class:`ResetResult`).
    """
    login = parse_login(raw_login)
    origin = origin or Origin()
    now = services.clock.now()
    verdict = services.throttler.before_reset(login.value, origin.ip, now)
    channel = EMAIL if login.is_email else SMS
    record("reset.requested" if verdict.allowed else "reset.limited", at=now, origin=origin, kind=login.kind,
           **({"counter": "login"} if verdict.login_ceiling else {}))
    request = None
    if verdict.allowed:
        request = ResetRequest(created_at=now, payload=Sealer(services.settings.secret_key).seal(
            {"login": login.value, "ip": origin.ip, "user_agent": origin.user_agent}))
        db.session.add(request)
    db.session.commit()
    if request is not None and services.settings.delivery_mode == "inline":
        dispatch_inline(services, issue_pending(services, ids=[request.id]))
    return ResetResult(login, delivered=not channel_backlogged(channel), login_ceiling=verdict.login_ceiling)


def issue_pending(services: Services, ids: list[int] | None = None, limit: int = 100) -> list[Delivery]:
    """Turn pending reset requests (oldest first, or just ``ids``) into temporary passwords and queued
    messages; returns the messages, committed and due now. Requests for logins that are no account are
    consumed without a trace."""
    query = select(ResetRequest.id, ResetRequest.payload).order_by(ResetRequest.id).limit(limit)
    if ids is not None:
        query = query.where(ResetRequest.id.in_(ids))
    pending = db.session.execute(query).all()
    db.session.commit()  # end the read: nothing is held while bcrypt runs below
    sealer = Sealer(services.settings.secret_key)
    messages = []
    for request_id, payload in pending:
        delivery = _issue(services, sealer, request_id, payload)
        if delivery is not None:
            messages.append(delivery)
    return messages


def _issue(services: Services, sealer: Sealer, request_id: int, payload: str) -> Delivery | None:
    try:
        params = sealer.open(payload)
        login = parse_login(params["login"])
    except (SealError, KeyError, TypeError, ValueError):
        log.error("reset request %s cannot be read (another IDP_SECRET_KEY?): dropped", request_id)
        db.session.execute(delete(ResetRequest).where(ResetRequest.id == request_id))
        db.session.commit()
        return None
    password = temporary.generate()
    password_hash = services.hasher.hash(password)  # before any write: no lock is held during bcrypt
    now = services.clock.now()
    claimed = db.session.execute(delete(ResetRequest).where(ResetRequest.id == request_id)).rowcount
    account = find_by_login(login) if claimed == 1 else None
    if account is None or not account.active:
        db.session.commit()  # consumed (or another worker had it)
        return None

    # A newer request replaces any older temporary password; the permanent one is left alone, so a
    # stranger typing someone's login cannot lock them out.
    db.session.execute(
        update(TemporaryPassword)
        .where(TemporaryPassword.account_id == account.id, TemporaryPassword.used_at.is_(None),
               TemporaryPassword.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    supersede(account.id, "temporary_password")  # an older password's message, if still unsent, never goes
    channel = EMAIL if login.is_email else SMS
    db.session.add(TemporaryPassword(account_id=account.id, password_hash=password_hash, channel=channel,
                                     created_at=now,
                                     expires_at=now + timedelta(seconds=services.settings.temp_password_ttl)))
    delivery = enqueue(services, "temporary_password", channel=channel, recipient=login.value,
                       account_id=account.id,
                       params={"password": password, "login_url": services.settings.issuer + "/login"})
    record("temporary.issued", at=now, origin=Origin(params.get("ip"), params.get("user_agent")),
           account_id=account.id, channel=channel)
    db.session.commit()
    return delivery
