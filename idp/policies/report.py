"""The admin's view of a stored policy (``idp policies show/held --json``)."""
from __future__ import annotations

from datetime import date, datetime

from idp.accounts import Account
from idp.extensions import db
from idp.policies.eligibility import NOTES, REASONS
from idp.policies.models import Policy


def describe_policy(policy: Policy) -> dict:
    account = db.session.get(Account, policy.account_id) if policy.account_id else None
    return {
        "number": policy.number, "kind": policy.kind, "product": policy.product, "status": policy.status,
        "start_date": _iso(policy.start_date), "end_date": _iso(policy.end_date),
        "person": {"full_name": policy.full_name, "birth_date": _iso(policy.birth_date),
                   "email": policy.email, "phone": policy.phone},
        "employer": ({"name": policy.employer, "includes_account": policy.includes_account}
                     if policy.kind == "corporate" else None),
        "state": policy.state, "reason": policy.reason,
        "reason_text": REASONS.get(policy.reason) if policy.reason else None,
        "detail": policy.detail,
        "notes": [{"code": code, "text": NOTES.get(code, code)} for code in policy.notes or ()],
        "account": ({"id": account.id, "subject": account.subject} if account is not None else None),
        "source": policy.source, "received_at": _iso(policy.received_at),
        "updated_at": _iso(policy.updated_at),
    }


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value
