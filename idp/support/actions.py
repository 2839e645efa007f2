"""What an operator may do for a customer's account, each with a reason for the audit, each done once per token.

Every action is ``action(services, operator, account, *, reason, token=None) -> ActionResult``. The reason is
required (non-empty, at most 500 characters, no control characters: :class:`InvalidReason`); the audit event
``support.<action>`` carries the operator's login and the reason. With a ``token`` (a form's one-time token,
the API's ``Idempotency-Key``) an :class:`~idp.accounts.models.OperatorAction` row is inserted in the same
transaction: a second call with that token does nothing and returns the first one's result.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.accounts import Account
from idp.accounts.models import OperatorAction
from idp.audit import Origin, record
from idp.errors import BadRequest, Conflict
from idp.extensions import db
from idp.oidc import revoke_for_account
from idp.oidc.backchannel import queue_logouts, send_now
from idp.sessions import end_account_sessions
from idp.support.service import Operator

MAX_REASON = 500
MAX_TOKEN = 64

RESEND_WELCOME = "resend_welcome"
SEND_TEMPORARY_PASSWORD = "send_temporary_password"
UNLOCK = "unlock"
BLOCK = "block"
UNBLOCK = "unblock"
SIGN_OUT = "sign_out"
ACTIONS = (RESEND_WELCOME, SEND_TEMPORARY_PASSWORD, UNLOCK, BLOCK, UNBLOCK, SIGN_OUT)


class InvalidReason(BadRequest):
    code = "support.reason.invalid"


class InvalidToken(BadRequest):
    code = "support.token.invalid"


@dataclass(frozen=True)
class ActionResult:
    """What an action did. ``repeated``: the token had been used, nothing was done again (``details`` then
    only names the first action)."""

    action: str
    account_id: int
    repeated: bool = False
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"action": self.action, "account_id": self.account_id, "repeated": self.repeated,
                "details": dict(self.details)}


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidReason("give a reason: it goes to the audit with your login", code="support.reason.required")
    if len(text) > MAX_REASON:
        raise InvalidReason(f"a reason of at most {MAX_REASON} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise InvalidReason("a reason without control characters (one line)")
    return text


def _check_token(token: str | None) -> str | None:
    if token is None:
        return None
    if not token or len(token) > MAX_TOKEN or not token.isascii() or not token.isprintable():
        raise InvalidToken(f"an idempotency token of 1 to {MAX_TOKEN} printable ASCII characters")
    return token


def _previous(token: str | None, action: str, account: Account) -> ActionResult | None:
    if token is None:
        return None
    row = db.session.get(OperatorAction, token)
    if row is None:
        return None
    if row.action != action or row.account_id != account.id:
        raise InvalidToken("this token was used for another action", code="support.token.reused")
    return ActionResult(row.action, account.id, repeated=True)


def _claim(token: str | None, action: str, account: Account, now: datetime) -> ActionResult | None:
    """Insert the token's row (flushed): None if it is new, else the first action's result. Parallel
    submits: one insert wins at the unique key; the other rolls back and reports the first."""
    previous = _previous(token, action, account)
    if previous is not None or token is None:
        return previous
    db.session.add(OperatorAction(token=token, action=action, account_id=account.id, created_at=now))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return _previous(token, action, account) or ActionResult(action, account.id, repeated=True)
    return None


def _audit(operator: Operator, action: str, account: Account, reason: str, now: datetime, **details) -> None:
    record(f"support.{action}", at=now, origin=operator.origin, account_id=account.id,
           client_id=operator.client_id, reason=reason, **operator.details(), **details)


def _run(services, operator: Operator, account: Account, action: str, reason: str, token: str | None, work):
    reason = check_reason(reason)
    token = _check_token(token)
    now = services.clock.now()
    previous = _claim(token, action, account, now)
    if previous is not None:
        return previous
    details = work(now) or {}
    _audit(operator, action, account, reason, now, **details)
    db.session.commit()
    return ActionResult(action, account.id, details=details)


def resend_welcome(services, operator: Operator, account: Account, *, reason: str, token: str | None = None):
    """Queue the welcome message («Мы зарегистрировали Вас…») again, to every channel the account has."""
    from idp.delivery import dispatch_inline
    from idp.policies.welcome import enqueue_welcome

    queued = []

    def work(now):
        rows = enqueue_welcome(services, account)
        queued.extend(rows)
        return {"channels": [row.channel for row in rows]}

    result = _run(services, operator, account, RESEND_WELCOME, reason, token, work)
    if queued and services.settings.delivery_mode == "inline":
        dispatch_inline(services, queued)
    return result


def send_temporary_password(services, operator: Operator, account: Account, *, reason: str,
                            token: str | None = None):
    """What «Забыли пароль?» does, for the account's own login (its e-mail, else its phone): the temporary
    password goes to the customer's channel; the operator never sees it. The customer's limits apply."""
    from idp.passwords.reset import request_temporary_password

    login = account.email or account.phone
    if account.disabled_at is not None:
        raise Conflict("the account is blocked: unblock it first", code="support.blocked")
    if not login:
        raise BadRequest("the account has no e-mail or phone", code="support.no_contact")
    state = {}

    def work(now):
        return {"channel": "email" if account.email else "sms"}

    result = _run(services, operator, account, SEND_TEMPORARY_PASSWORD, reason, token, work)
    if not result.repeated:
        # Its own transaction (it commits): the audit of the operator's action is committed first.
        # No address: the contact centre is many operators behind one; the login's own limits still apply.
        outcome = request_temporary_password(login, services, Origin(user_agent=operator.origin.user_agent))
        state.update(delivered=outcome.delivered, limited=not outcome.accepted)
        return ActionResult(result.action, result.account_id, details={**result.details, **state})
    return result


def _login_values(account: Account) -> list[str]:
    return [value for value in (account.email, account.phone) if value]


def lockouts(services, account: Account, now: datetime) -> list[dict]:
    """The sign-in throttle counters of the account's logins: the login's own and one per address."""
    from idp.throttling.service import login_key, pair_prefix

    found = []
    store = services.throttler.store
    for value in _login_values(account):
        kind = "email" if "@" in value else "phone"
        rows = list(store.find_prefix(pair_prefix("signin", value)))
        own = store.find_prefix(login_key("signin", value))
        rows += [row for row in own if row["key"] == login_key("signin", value)]
        for row in rows:
            until = row.get("blocked_until")
            seconds = max(0, int((until - now).total_seconds() + 0.999)) if until else 0
            found.append({"login": kind, "counter": "login" if ":login:" in row["key"] else "address",
                          "key": row["key"], "failures": row["failures"], "blocked_until":
                              until.isoformat() + "Z" if until and seconds else None,
                          "seconds_left": seconds})
    return found


def unlock(services, operator: Operator, account: Account, *, reason: str, token: str | None = None):
    """Lift the sign-in lockouts of the account's logins: the login's counter and every per-address one."""
    def work(now):
        keys = [row["key"] for row in lockouts(services, account, now)]
        for key in keys:
            services.throttler.store.clear(key)
        return {"counters": len(keys)}

    return _run(services, operator, account, UNLOCK, reason, token, work)


def block(services, operator: Operator, account: Account, *, reason: str, token: str | None = None):
    """No sign-in; every session ended, every refresh and access token revoked."""
    def work(now):
        if account.disabled_at is None:
            account.disabled_at = now
        return _end_everything(services, account, now, logouts, via=BLOCK)

    logouts: list = []
    result = _run(services, operator, account, BLOCK, reason, token, work)
    send_now(services, logouts)
    return result


def unblock(services, operator: Operator, account: Account, *, reason: str, token: str | None = None):
    def work(now):
        was = account.disabled_at is not None
        account.disabled_at = None
        return {"was_blocked": was}

    return _run(services, operator, account, UNBLOCK, reason, token, work)


def sign_out(services, operator: Operator, account: Account, *, reason: str, token: str | None = None):
    """End every session and revoke every token of the account (the customer signs in again everywhere)."""
    def work(now):
        return _end_everything(services, account, now, logouts, via=SIGN_OUT)

    logouts: list = []
    result = _run(services, operator, account, SIGN_OUT, reason, token, work)
    send_now(services, logouts)
    return result


def _end_everything(services, account: Account, now: datetime, logouts: list, *, via: str) -> dict:
    """Every session of the account ended (each relying party of each told, Back-Channel Logout) and every
    token revoked, in the action's transaction; the queued logout tokens appended to ``logouts``."""
    ended = end_account_sessions(account.id, now=now)
    logouts.extend(queue_logouts(services, ended, now=now, via=via))
    return {"sessions": len(ended), "tokens": revoke_for_account(account.id, now=now)}


def perform(services, operator: Operator, account: Account, action: str, *, reason: str,
            token: str | None = None) -> ActionResult:
    """Any action by its name (:data:`ACTIONS`): for the web form and the API."""
    functions = {RESEND_WELCOME: resend_welcome, SEND_TEMPORARY_PASSWORD: send_temporary_password,
                 UNLOCK: unlock, BLOCK: block, UNBLOCK: unblock, SIGN_OUT: sign_out}
    if action not in functions:
        raise BadRequest(f"unknown action {action!r}", code="support.action.unknown")
    return functions[action](services, operator, account, reason=reason, token=token)
