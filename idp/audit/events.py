"""Recording security events. Domain code states what happened; where from comes in an ``Origin``."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from idp.audit.models import AuditEvent
from idp.extensions import db
from idp.ops.metrics import count_event

log = logging.getLogger("idp.audit")

#: Every event name the provider records, and what it means.
EVENTS = {
    "signin.success": "a customer signed in with the permanent password",
    "signin.temporary": "a customer signed in with a temporary password (sent to «Изменение пароля»)",
    "signin.failure": "a wrong login or password",
    "signin.throttled": "a sign-in refused because of too many failures",
    "signin.shedding_started": "password checks over capacity: sign-ins are being refused with 429 (once per "
                               "episode for all instances sharing the throttle store)",
    "signin.shedding_stopped": "a worker stopped refusing sign-ins (seconds: how long; refused: attempts per lane)",
    "signout": "a customer signed out",
    "reset.requested": "«Забыли пароль?» was pressed for a login (known or not)",
    "reset.limited": "a reset request over a limit (per login at one address, per login, per address)",
    "temporary.issued": "a temporary password was created and queued for sending",
    "temporary.killed": "a temporary password died after too many wrong tries on «Изменение пароля»",
    "password.changed": "the permanent password was set or changed",
    "sessions.revoked": "other sessions and tokens of an account were revoked",
    "token.issued": "tokens were issued to a client",
    "token.revoked": "a token was revoked",
    "token.reuse": "a used code or refresh token was presented again (its family was revoked)",
    "client.created": "an OAuth client was registered",
    "client.changed": "an OAuth client was changed, disabled, enabled or given a new secret",
    "admin.action": "an admin changed something through the CLI, API or web area",
    "account.created": "an account was created",
    "account.updated": "an admin corrected an account's e-mail, phone, name or birth date (field names only)",
    "policy.held": "a policy was held for corrected data or an admin (its number and reason code)",
    "policy.refused": "a policy gives no account by rule: credit-linked, corporate without it, not in force",
    "session.logout_queued": "a provider session ended: a back-channel logout token was queued for one of "
                             "its relying parties (client; via: signout, rp_logout, block, sign_out, "
                             "refresh_reuse)",
    "delivery.dead": "a message became a dead letter: its last attempt failed, or its outcome is unknown",
    "delivery.requeued": "a dead message was put back in the queue",
    "delivery.recipient_marked": "a hard bounce or complaint marked an address undeliverable (id, channel, reason)",
    "delivery.recipient_cleared": "an undeliverable mark was lifted (by an operator, or the customer proved it)",
    "admin.policy_recheck": "an admin had a policy evaluated again (CLI, API or web area)",
    "admin.delivery_requeue": "an admin re-queued a dead message (CLI, API or web area)",
    "support.viewed": "an operator (support or admin; web, API or CLI) looked at a customer's account",
    "support.resend_welcome": "an operator had the welcome message sent again (operator, reason)",
    "support.send_temporary_password": "an operator had a temporary password sent to the customer's own channel",
    "support.unlock": "an operator lifted the sign-in lockouts of an account's logins (operator, reason)",
    "support.block": "an operator blocked an account: sessions ended, tokens revoked (operator, reason)",
    "support.unblock": "an operator unblocked an account (operator, reason)",
    "support.sign_out": "an operator ended an account's sessions and revoked its tokens (operator, reason)",
    "signin.blocked": "the right password of a blocked account: sign-in refused with the blocked message",
    "secrets.rekeyed": "`idp secrets rekey` ran: values re-keyed per kind, how many remain under other keys "
                       "(key ids only)",
}

#: Keys that must never reach the trail, whatever a caller passes.
_FORBIDDEN = {"password", "temporary", "secret", "client_secret", "token", "code", "refresh_token",
              "access_token", "id_token"}


@dataclass(frozen=True)
class Origin:
    """Where a request came from; empty for the CLI and background work."""

    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def none(cls) -> "Origin":
        return cls()


def record(event: str, *, at: datetime, origin: Origin | None = None, account_id: int | None = None,
           client_id: str | None = None, **details) -> AuditEvent:
    """Add an event to the caller's transaction (committed with the change it describes)."""
    values = event_values(event, at=at, origin=origin, account_id=account_id, client_id=client_id, **details)
    row = AuditEvent(**values)
    db.session.add(row)
    publish(values)
    return row


def event_values(event: str, *, at: datetime, origin: Origin | None = None, account_id: int | None = None,
                 client_id: str | None = None, **details) -> dict:
    """The column values of an event's row, checked (a known event, no secret among the details).

    :func:`record` writes them through the ORM; a hot path may write them with its own statement, with its
    other writes (the token endpoint does), and :func:`publish` them once written."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    leaked = _FORBIDDEN & set(details)
    if leaked:
        raise ValueError(f"audit details must not carry secrets: {sorted(leaked)}")
    origin = origin or Origin()
    # A header may carry NUL, which PostgreSQL refuses in text: the trail keeps the rest of it.
    user_agent = (origin.user_agent or "").replace("\x00", "")[:300] or None
    return {"at": at, "event": event, "account_id": account_id, "client_id": client_id, "ip": origin.ip,
            "user_agent": user_agent, "details": details}


#: Events as frequent as requests: logged at DEBUG, not INFO (they are in the trail and counted all the
#: same). A log line per issued token cost the token endpoint about a tenth of its throughput.
_HIGH_VOLUME = {"token.issued"}


def publish(values: dict, *, log_extra: dict | None = None) -> None:
    """Count an event (``idp_events_total``) and log it (``log_extra``: the log record's extra fields, such
    as the request id of a protocol API request)."""
    count_event(values["event"])
    level = logging.DEBUG if values["event"] in _HIGH_VOLUME else logging.INFO
    if log.isEnabledFor(level):
        log.log(level, "audit %s account=%s client=%s ip=%s %s", values["event"], values["account_id"],
                values["client_id"], values["ip"], values["details"] or "", extra=log_extra)


def describe(row: AuditEvent) -> dict:
    return {"id": row.id, "at": row.at.isoformat() + "Z", "event": row.event, "account_id": row.account_id,
            "client_id": row.client_id, "ip": row.ip, "user_agent": row.user_agent, "details": row.details}
