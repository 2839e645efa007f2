"""What an operator sees of an account (JSON-ready, masked, never a secret), and the audit of every look."""
from __future__ import annotations

from datetime import datetime

from idp.accounts import Account
from idp.audit import record
from idp.support.service import Operator


def record_view(operator: Operator, account: Account, now: datetime) -> None:
    """Audit ``support.viewed``: who (the operator's login, via web/api/cli) looked at whom (the account).
    Added to the caller's transaction; the caller commits."""
    record("support.viewed", at=now, origin=operator.origin, account_id=account.id, client_id=operator.client_id,
           **operator.details())


def account_view(services, account: Account, now: datetime) -> dict:
    """The account page's data (see :mod:`idp.support`); filled in below."""
    raise NotImplementedError("account_view is being written (issue 24)")
