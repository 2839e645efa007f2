"""What the automation left to an admin: held policies, refusals, messages that did not go out.

The web area (``/admin/held``, ``/admin/refused``, ``/admin/deliveries``), the REST API
(``/api/admin/policies/…``, ``/api/admin/deliveries…``) and the CLI (``idp policies recheck``,
``idp deliveries requeue``, ``idp accounts update``) all come through here, so an action looks the same
in the audit trail whichever surface made it (``via`` = ``web``, ``api`` or ``cli``).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.accounts import Account, AccountExists, describe, get_by_login, update_account
from idp.admin.operations import Actor
from idp.admin.paging import PER_PAGE, Page, paginate
from idp.audit import record
from idp.delivery import Delivery, Dispatcher, dispatch_inline
from idp.delivery.failures import FAILED, NotRequeueable, get_delivery, listing, requeueable
from idp.errors import BadRequest, Conflict, IdpError, NotFound
from idp.extensions import db
from idp.policies import HELD, REFUSED, Outcome, Policy, conflicts_for, describe_policy, recheck
from idp.policies.intake import RACES
from idp.policies.persons import correct_person, parse_birth_date
from idp.services import Services


class PolicyNotFound(NotFound):
    code = "policy.not_found"


# -- looking ------------------------------------------------------------------------------------------------


def held_policies(number: int = 1, per_page: int = PER_PAGE) -> Page[Policy]:
    """Policies waiting for corrected data or an admin, newest first."""
    return paginate(select(Policy).where(Policy.state == HELD).order_by(Policy.id.desc()), number, per_page)


def refused_policies(reason: str | None = None, number: int = 1, per_page: int = PER_PAGE) -> Page[Policy]:
    """Policies that give no account by rule, newest first; only those of ``reason`` if given."""
    query = select(Policy).where(Policy.state == REFUSED)
    if reason:
        query = query.where(Policy.reason == reason)
    return paginate(query.order_by(Policy.id.desc()), number, per_page)


def deliveries(which: str = FAILED, number: int = 1, per_page: int = PER_PAGE) -> Page[Delivery]:
    """The messages of filter ``which`` (:data:`idp.delivery.failures.FILTERS`), newest first: by default
    dead letters and messages waiting for a retry after a failed attempt; or ``all``; or one state's."""
    return paginate(listing(which), number, per_page)


#: The older name, from when only failed messages were listed.
failed_deliveries = deliveries


def find_policy(number: str) -> Policy:
    """The policy with this number; raises :class:`PolicyNotFound`."""
    number = (number or "").strip()
    policy = None
    # No stored number is longer than 64 or holds NUL (which PostgreSQL refuses in a query): not found.
    if number and len(number) <= 64 and "\x00" not in number:
        policy = db.session.execute(select(Policy).where(Policy.number == number)).scalar_one_or_none()
    if policy is None:
        raise PolicyNotFound(f"no policy {number[:64]!r}")
    return policy


def policy_reports(policies: list[Policy]) -> list[dict]:
    """The admin API's view of policies: :func:`describe_policy` and whose accounts their contacts are."""
    conflicts = conflicts_for(policies)
    return [{**describe_policy(p), "conflicts": [c.as_dict() for c in conflicts[p.id]]} for p in policies]


# -- acting -------------------------------------------------------------------------------------------------


def recheck_policy(services: Services, actor: Actor, number: str) -> Outcome:
    """Evaluate a policy again (``idp policies recheck``), commit, then send the messages it caused."""
    policy = find_policy(number)
    now = services.clock.now()
    try:
        outcome = recheck(services, policy)
        record("admin.policy_recheck", at=now, origin=actor.origin, account_id=actor.account_id,
               number=outcome.number, result=outcome.result, state=outcome.state, reason=outcome.reason,
               **actor.details())
        db.session.commit()
    except RACES:
        # Another writer took the e-mail or phone between our look-up and our insert: nothing is kept.
        db.session.rollback()
        raise Conflict("the policy changed under us; check it again",
                       code="policy.concurrent_change") from None
    except IdpError:
        db.session.rollback()
        raise
    dispatch_inline(services, outcome.deliveries)
    return outcome


def requeue_delivery(services: Services, actor: Actor, delivery_id) -> Delivery:
    """Put a dead letter back in the queue (:meth:`Dispatcher.requeue`); in ``inline`` mode send it at once.

    Raises ``delivery.not_found`` (404) or ``delivery.not_dead`` (409: not dead, or its parameters are
    gone). The audit events follow the requeue, which commits on its own: they describe what happened.
    """
    row = get_delivery(delivery_id)
    if not requeueable(row) or not Dispatcher(services).requeue(row.id):
        db.session.rollback()
        raise NotRequeueable(f"delivery {row.id} is {row.status}, "
                             "not a dead letter that still holds its message")
    now = services.clock.now()
    db.session.refresh(row)
    record("delivery.requeued", at=now, origin=actor.origin, account_id=row.account_id, delivery_id=row.id,
           channel=row.channel, purpose=row.template, **actor.details())
    record("admin.delivery_requeue", at=now, origin=actor.origin, account_id=actor.account_id,
           delivery_id=row.id, **actor.details())
    db.session.commit()
    dispatch_inline(services, [row])
    db.session.refresh(row)
    return row


def correct_account(services: Services, actor: Actor, login: str, *, email: str | None = None,
                    phone: str | None = None, full_name: str | None = None,
                    birth_date: str | None = None) -> tuple[Account, list[str]]:
    """Correct an account's contacts, name or birth date (``idp accounts update``); the fields changed.

    Typically the step before a held policy's recheck: the account gives back a contact that is not its
    holder's own, or its person is corrected. Audited as ``account.updated`` with the field names only.
    """
    if email is None and phone is None and full_name is None and birth_date is None:
        raise BadRequest("nothing to change: give an e-mail, phone, name or birth date",
                         code="account.nothing_to_change")
    now = services.clock.now()
    born = parse_birth_date(birth_date, today=now.date()) if birth_date is not None else None
    account = get_by_login(login)
    try:
        changed = update_account(account, email=email, phone=phone, full_name=full_name)
        changed += correct_person(account, name_changed="full_name" in changed, birth_date=born, now=now)
        if changed:
            record("account.updated", at=now, origin=actor.origin, account_id=account.id, fields=changed,
                   **actor.details())
        db.session.commit()
    except IntegrityError:
        # Another writer took the e-mail or phone between our check and our write.
        db.session.rollback()
        raise AccountExists("the e-mail or phone is the login of another account",
                            code="account.contact_taken") from None
    except IdpError:
        db.session.rollback()
        raise
    return account, changed


def describe_account(account: Account, changed: list[str]) -> dict:
    return {**describe(account), "changed": changed}
