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

A worker first claims a batch of requests (a lease on each, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
each temporary password is hashed by one worker only, however many run; a request whose worker died is
claimed again once its lease has passed. Its row is deleted in the same transaction that writes the
temporary password and its outbox message, so it is issued exactly once, and nothing of it is left readable
afterwards (an unknown login someone typed is not kept).
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
from idp.delivery.claiming import locked_candidates
from idp.delivery.models import Delivery
from idp.delivery.receipts import is_undeliverable
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
    #: False when a limit held the request back (nothing will be sent). For an operator acting for the
    #: customer (idp.support); the customer's own page must not show it.
    accepted: bool = True


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
        request = ResetRequest(created_at=now, payload=Sealer(services.settings.secret_keys).seal(
            {"login": login.value, "ip": origin.ip, "user_agent": origin.user_agent}))
        db.session.add(request)
    db.session.commit()
    if request is not None and services.settings.delivery_mode == "inline":
        dispatch_inline(services, issue_pending(services, ids=[request.id]))
    return ResetResult(login, delivered=not channel_backlogged(channel), login_ceiling=verdict.login_ceiling,
                       accepted=verdict.allowed)


def issue_pending(services: Services, ids: list[int] | None = None, limit: int = 100) -> list[Delivery]:
    """Turn pending reset requests (oldest first, or just ``ids``) into temporary passwords and queued
    messages; returns the messages, committed and due now. Requests for logins that are no account are
    consumed without a trace.

    Claim first, then hash: the requests are claimed in one short transaction (:func:`claim_pending`),
    so each one is bcrypt-hashed by this worker alone; each is then issued in a transaction of its own."""
    pending = claim_pending(services.clock.now(), limit, ids)  # committed: nothing is held during bcrypt
    sealer = Sealer(services.settings.secret_keys)
    messages = []
    for request_id, payload in pending:
        delivery = _issue(services, sealer, request_id, payload)
        if delivery is not None:
            messages.append(delivery)
    return messages


#: How long a worker holds the requests it claimed; a request whose worker died is taken by another after it.
CLAIM_LEASE = timedelta(minutes=5)


def claim_pending(now, limit: int, ids: list[int] | None = None) -> list[tuple[int, str]]:
    """Claim up to ``limit`` unclaimed (or expired-claim) reset requests, oldest first, or just those of
    ``ids``; returns ``(id, payload)`` of those this worker now holds until ``now + CLAIM_LEASE``.

    One UPDATE … RETURNING, committed at once. On PostgreSQL its candidates are locked ``FOR UPDATE SKIP
    LOCKED``, so workers claiming at the same moment take different requests; on SQLite (one writer at a
    time) the same statement is simply conditional. The request row itself is deleted when it is issued
    (:func:`_issue`), in the transaction that writes the temporary password."""
    claimable = (ResetRequest.claimed_until.is_(None)) | (ResetRequest.claimed_until < now)
    candidates = select(ResetRequest.id).where(claimable).order_by(ResetRequest.id).limit(limit)
    if ids is not None:
        candidates = candidates.where(ResetRequest.id.in_(ids))
    claimed = db.session.execute(
        update(ResetRequest)
        .where(ResetRequest.id.in_(locked_candidates(candidates, "pending")), claimable)
        .values(claimed_until=now + CLAIM_LEASE)
        .returning(ResetRequest.id, ResetRequest.payload)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted((row.id, row.payload) for row in claimed)  # oldest first: a newer request supersedes


def _issue(services: Services, sealer: Sealer, request_id: int, payload: str) -> Delivery | None:
    try:
        params = sealer.open(payload)
        login = parse_login(params["login"])
    except (SealError, KeyError, TypeError, ValueError):
        log.error("reset request %s cannot be read (sealed under a key no longer accepted?): dropped",
                  request_id)
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
    channel, recipient, message_params = EMAIL if login.is_email else SMS, login.value, {}
    if login.is_email and account.phone and is_undeliverable(login.value):
        # The address hard-bounced or complained (a delivery receipt said so): the password goes to the phone,
        # and the SMS itself says why. Only whoever holds that phone learns it; the page says the same for
        # every login.
        channel, recipient, message_params = SMS, account.phone, {"email_undeliverable": True}
    db.session.add(TemporaryPassword(account_id=account.id, password_hash=password_hash, channel=channel,
                                     created_at=now,
                                     expires_at=now + timedelta(seconds=services.settings.temp_password_ttl)))
    delivery = enqueue(services, "temporary_password", channel=channel, recipient=recipient,
                       account_id=account.id,
                       params={"password": password, "login_url": services.settings.issuer + "/login",
                               **message_params})
    record("temporary.issued", at=now, origin=Origin(params.get("ip"), params.get("user_agent")),
           account_id=account.id, channel=channel)
    db.session.commit()
    return delivery
