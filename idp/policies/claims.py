"""The ``policies`` claim (scope ``policies``): a customer's eligible policies, for ID token and UserInfo."""
from __future__ import annotations

from sqlalchemy import select

from idp.extensions import db
from idp.policies.models import ATTACHED, Policy

#: The scope that asks for the claim, and the claim's name.
SCOPE = "policies"
CLAIM = "policies"


def claims_for(account_id: int) -> list[dict]:
    """The account's policies as claim values: only those attached to it (never credit-linked or refused)."""
    rows = db.session.execute(
        select(Policy.number, Policy.kind, Policy.product, Policy.status, Policy.start_date, Policy.end_date)
        .where(Policy.account_id == account_id, Policy.state == ATTACHED)
        .order_by(Policy.start_date.desc(), Policy.number)).all()
    return [{"number": number, "kind": kind, "product": product, "status": status,
             "start_date": start.isoformat(), "end_date": end.isoformat()}
            for number, kind, product, status, start, end in rows]
