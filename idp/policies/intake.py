"""Receiving a policy: an idempotent upsert by number, the eligibility decision, and its consequences.

The same policy sent again changes nothing; corrected data for a known number is evaluated afresh. The
decision itself is :func:`idp.policies.eligibility.decide`; this module only reads what it needs (one
indexed look-up per contact) and writes what it decided: the policy row, a new account with its person
and welcome messages, or contacts added to an existing account. :func:`receive` flushes and leaves the
transaction to the caller; :func:`issue_policy` is the whole unit of work for one policy (REST, CLI).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from idp.accounts import Account, AccountExists, create_account
from idp.delivery import Delivery, dispatch_inline
from idp.errors import Conflict
from idp.extensions import db
from idp.policies.eligibility import (ATTACH, CREATE, HOLD, REASONS, Decision, Facts, Holder, Person,
                                      check_contacts, decide)
from idp.policies.facts import IN_FORCE, PolicyInput, name_key, parse_policy
from idp.policies.models import ATTACHED, HELD, REFUSED, AccountPerson, Policy
from idp.policies.welcome import enqueue_welcome

log = logging.getLogger(__name__)

#: What happened to a policy in one call (the import report counts these).
ACCOUNT_CREATED = "account_created"
ATTACHED_RESULT = "attached"  # joined an existing account
UPDATED = "updated"  # already in this account; its data changed
HELD_RESULT = "held"
REFUSED_RESULT = "refused"
UNCHANGED = "unchanged"  # the very same policy again
RESULTS = (ACCOUNT_CREATED, ATTACHED_RESULT, UPDATED, HELD_RESULT, REFUSED_RESULT, UNCHANGED)

#: Held policies waiting for a new account's contacts, looked at per account; more is an admin's job.
MAX_RELEASED = 50
#: Attempts of one policy when a concurrent writer took the same number, e-mail or phone first.
ATTEMPTS = 3
#: What such a race looks like: a unique index refusing the row, or the account found just before insert.
RACES = (IntegrityError, AccountExists)


@dataclass
class Outcome:
    number: str
    result: str
    state: str
    reason: str | None = None
    detail: str | None = None
    notes: tuple[str, ...] = ()
    account_id: int | None = None
    subject: str | None = None
    #: True when this number was seen for the first time.
    new: bool = False
    #: Numbers of held policies that joined the account as a consequence.
    released: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"number": self.number, "result": self.result, "state": self.state, "reason": self.reason,
                "reason_text": REASONS.get(self.reason) if self.reason else None, "detail": self.detail,
                "notes": list(self.notes), "account": self.subject, "new": self.new, "released": self.released}


def issue_policy(services, document: Mapping, *, source: str) -> Outcome:
    """Check, receive and commit one policy, then send its messages; raises ``InvalidPolicy`` on bad input."""
    data = parse_policy(document, today=services.clock.now().date())
    for attempt in range(1, ATTEMPTS + 1):
        try:
            outcome = receive(services, data, source=source)
            db.session.commit()
            break
        except RACES as exc:
            # Another writer created the same policy, e-mail or phone a moment ago: look again.
            db.session.rollback()
            log.warning("policy %s: attempt %s met a concurrent write (%s)", data.number, attempt,
                        type(exc).__name__)
            if attempt == ATTEMPTS:
                raise Conflict("the policy could not be stored for concurrent changes; send it again",
                               code="policy.concurrent_change") from None
    dispatch_inline(services, outcome.deliveries)
    return outcome


def receive(services, data: PolicyInput, *, source: str) -> Outcome:
    """Upsert ``data`` by number and act on the decision (flushed, not committed)."""
    now = services.clock.now()
    fingerprint = data.fingerprint()
    policy = db.session.execute(select(Policy).where(Policy.number == data.number)).scalar_one_or_none()
    if policy is not None and policy.fingerprint == fingerprint:
        return _outcome(policy, UNCHANGED)
    new = policy is None
    if new:
        policy = Policy(number=data.number, received_at=now, notes=[])
        db.session.add(policy)
    for name in ("kind", "product", "status", "start_date", "end_date", "full_name", "birth_date", "email",
                 "phone", "employer", "includes_account"):
        setattr(policy, name, getattr(data, name))
    policy.fingerprint, policy.source, policy.updated_at = fingerprint, source, now
    outcome = evaluate(services, policy)
    outcome.new = new
    return outcome


def recheck(services, policy: Policy) -> Outcome:
    """Evaluate a stored policy again (after an admin changed an account, say); flushed, not committed."""
    return evaluate(services, policy)


def evaluate(services, policy: Policy, *, release: bool = True) -> Outcome:
    """Decide on ``policy`` as it now stands and write the consequences."""
    now = services.clock.now()
    email, phone, problems = check_contacts(policy.email, policy.phone)
    policy.email_key, policy.phone_key = email, phone
    facts = Facts(kind=policy.kind, in_force=policy.status == IN_FORCE, includes_account=policy.includes_account,
                  person=Person(name_key(policy.full_name), policy.birth_date), email=email, phone=phone,
                  contact_problems=problems)
    with db.session.no_autoflush:  # a new policy row is not complete before the decision
        by_email = _holder(Account.email == email) if email else None
        by_phone = _holder(Account.phone == phone) if phone else None
        previous = policy.account_id
        current = _holder(Account.id == previous) if previous else None
    decision = decide(facts, by_email=by_email, by_phone=by_phone, current=current)

    policy.state = {CREATE: ATTACHED, ATTACH: ATTACHED, HOLD: HELD}.get(decision.outcome, REFUSED)
    policy.reason, policy.notes = decision.reason, list(decision.notes)
    policy.detail = _detail(decision, by_email, by_phone)
    policy.account_id = decision.account_id
    deliveries: list[Delivery] = []
    account = None
    if decision.outcome == CREATE:
        account = create_account(email=email, phone=phone, full_name=policy.full_name, now=now)
        db.session.add(AccountPerson(account_id=account.id, name_key=facts.person.name_key,
                                     birth_date=facts.person.birth_date, created_at=now))
        policy.account_id = account.id
        deliveries = enqueue_welcome(services, account)
        result = ACCOUNT_CREATED
        log.info("policy %s: account %s created", policy.number, account.id)
    elif decision.outcome == ATTACH:
        account = db.session.get(Account, decision.account_id)
        _attach(account, decision, facts, now, known_person=_holder_of(decision.account_id, by_email, by_phone,
                                                                         current))
        result = UPDATED if previous == account.id else ATTACHED_RESULT
    else:
        result = HELD_RESULT if decision.outcome == HOLD else REFUSED_RESULT
        log.info("policy %s %s: %s", policy.number, result, decision.reason)
    db.session.flush()
    outcome = _outcome(policy, result, account)
    outcome.deliveries = deliveries
    if release and account is not None and (decision.outcome == CREATE or decision.add_email or decision.add_phone):
        outcome.released = _release_waiting(services, account, policy)
    return outcome


def _attach(account: Account, decision: Decision, facts: Facts, now, *, known_person: Holder) -> None:
    """Add the contacts the account lacks (never replace one) and record its person if it was unknown."""
    if decision.add_email:
        account.email = facts.email
    if decision.add_phone:
        account.phone = facts.phone
    if known_person.birth_date is None:
        # An operator-made account whose name matched: from now on it is this person's, birth date included.
        person = db.session.get(AccountPerson, account.id)
        if person is None:
            db.session.add(AccountPerson(account_id=account.id, name_key=facts.person.name_key,
                                         birth_date=facts.person.birth_date, created_at=now))


def _release_waiting(services, account: Account, policy: Policy) -> list[str]:
    """Held policies carrying this account's e-mail or phone: look at them again now that it exists."""
    contacts = [c for c in (Policy.email_key == account.email if account.email else None,
                            Policy.phone_key == account.phone if account.phone else None) if c is not None]
    waiting = db.session.execute(
        select(Policy).where(Policy.state == HELD, Policy.id != policy.id, or_(*contacts))
        .order_by(Policy.id).limit(MAX_RELEASED)).scalars().all()
    released = []
    for other in waiting:
        if evaluate(services, other, release=False).state == ATTACHED:
            released.append(other.number)
    return released


def _holder(condition) -> Holder | None:
    row = db.session.execute(
        select(Account.id, Account.email, Account.phone, Account.full_name, AccountPerson.name_key,
               AccountPerson.birth_date)
        .outerjoin(AccountPerson, AccountPerson.account_id == Account.id).where(condition)).first()
    if row is None:
        return None
    account_id, email, phone, full_name, key, birth = row
    if key is None and full_name:
        key = name_key(full_name)
    return Holder(account_id=account_id, email=email, phone=phone, name_key=key, birth_date=birth)


def _holder_of(account_id: int, *holders: Holder | None) -> Holder:
    return next(h for h in holders if h is not None and h.account_id == account_id)


def _detail(decision: Decision, by_email: Holder | None, by_phone: Holder | None) -> str | None:
    """Which accounts a held policy collides with, in words an admin can act on."""
    if decision.reason == "email_and_phone_match_different_accounts":
        return f"e-mail → account {by_email.account_id}; phone → account {by_phone.account_id}"
    if decision.reason in ("contact_belongs_to_another_person", "account_person_unknown"):
        matched = by_email or by_phone
        via = "e-mail" if by_email is not None else "phone"
        return f"{via} → account {matched.account_id}"
    return None


def _outcome(policy: Policy, result: str, account: Account | None = None) -> Outcome:
    if account is None and policy.account_id is not None:
        account = db.session.get(Account, policy.account_id)
    return Outcome(number=policy.number, result=result, state=policy.state, reason=policy.reason,
                   detail=policy.detail, notes=tuple(policy.notes or ()), account_id=policy.account_id,
                   subject=account.subject if account is not None else None)
