"""The ``policies`` claim (scope ``policies``): a customer's eligible policies, for ID token and UserInfo."""
from __future__ import annotations

from sqlalchemy import bindparam, select

from idp.extensions import db
from idp.policies.models import ATTACHED, Policy

#: The scope that asks for the claim, and the claim's name.
SCOPE = "policies"
CLAIM = "policies"

#: The rows of the claim: only policies attached to the account (never credit-linked or refused).
ELIGIBLE = (select(Policy.number, Policy.kind, Policy.product, Policy.status, Policy.start_date, Policy.end_date)
            .where(Policy.account_id == bindparam("account_id"), Policy.state == ATTACHED)
            .order_by(Policy.start_date.desc(), Policy.number))


def as_claims(rows) -> list[dict]:
    """Rows of :data:`ELIGIBLE` as the claim's values."""
    return [{"number": number, "kind": kind, "product": product, "status": status,
             "start_date": start.isoformat(), "end_date": end.isoformat()}
            for number, kind, product, status, start, end in rows]


def claims_for(account_id: int) -> list[dict]:
    """The account's policies as claim values, read in the ORM session's transaction."""
    return as_claims(db.session.execute(ELIGIBLE, {"account_id": account_id}).all())
