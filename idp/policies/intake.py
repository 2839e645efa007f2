"""Receiving a policy: an idempotent upsert by number, the eligibility decision, and its consequences.

The same policy sent again changes nothing; corrected data for a known number is evaluated afresh. The
decision itself is :func:`idp.policies.eligibility.decide`; this module only reads what it needs (the
policy by its number, the accounts its e-mail and phone match: one indexed query each) and writes what
it decided: the policy row, a new account with its person and welcome messages, or contacts added to an
existing account. :func:`receive` flushes and leaves the transaction to the caller; :func:`store` and
:func:`issue_policy` are whole units of work (import batches; REST and CLI).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import or_, select, union_all
from sqlalchemy.exc import IntegrityError

from idp.accounts import Account, AccountExists, create_account
from idp.audit import record
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
                "notes": list(self.notes), "account": self.subject, "new": self.new,
                "released": self.released}


def issue_policy(services, document: Mapping, *, source: str) -> Outcome:
    """Check, receive and commit one policy, then send its messages; raises ``InvalidPolicy`` on bad input."""
    [outcome] = store(services, [parse_policy(document, today=services.clock.now().date())], source=source)
    dispatch_inline(services, outcome.deliveries)
    return outcome


def store(services, items: list[PolicyInput], *, source: str) -> list[Outcome]:
    """Receive ``items`` in one transaction and commit it; raises ``Conflict`` if races persist.

    A race is another writer storing the same policy number, e-mail or phone between our look-up and
    our insert. The transaction is then rolled back and done again, this time seeing what they wrote;
    receiving is idempotent, so doing it again is safe. Messages are left for the caller to dispatch.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            outcomes = [receive(services, data, source=source) for data in items]
            db.session.commit()
            return outcomes
        except RACES as exc:
            db.session.rollback()
            log.warning("policies %s…: attempt %s met a concurrent write (%s)", items[0].number, attempt,
                        type(exc).__name__)
    raise Conflict("the policy could not be stored for concurrent changes; send it again",
                   code="policy.concurrent_change")


def receive(services, data: PolicyInput, *, source: str) -> Outcome:
    """Upsert ``data`` by number and act on the decision (flushed, not committed)."""
    now = services.clock.now()
    fingerprint = data.fingerprint()
    found = db.session.execute(
        select(Policy, Account.subject).outerjoin(Account, Account.id == Policy.account_id)
        .where(Policy.number == data.number)).first()
    if found is not None and found[0].fingerprint == fingerprint:
        return _outcome(found[0], UNCHANGED, subject=found[1])
    policy = found[0] if found is not None else Policy(number=data.number, received_at=now, notes=[])
    for name in ("kind", "product", "status", "start_date", "end_date", "full_name", "birth_date", "email",
                 "phone", "employer", "includes_account"):
        setattr(policy, name, getattr(data, name))
    policy.fingerprint, policy.source, policy.updated_at = fingerprint, source, now
    outcome = evaluate(services, policy)
    outcome.new = found is None
    return outcome


def recheck(services, policy: Policy) -> Outcome:
    """Evaluate a stored policy again (after an admin changed an account, say); flushed, not committed."""
    return evaluate(services, policy)


def evaluate(services, policy: Policy, *, release: bool = True) -> Outcome:
    """Decide on ``policy`` as it now stands and write the consequences.

    A new policy joins the session only once decided, so it is written in one INSERT, complete.
    """
    now = services.clock.now()
    email, phone, problems = check_contacts(policy.email, policy.phone)
    policy.email_key, policy.phone_key = email, phone
    facts = Facts(kind=policy.kind, in_force=policy.status == IN_FORCE,
                  includes_account=policy.includes_account,
                  person=Person(name_key(policy.full_name), policy.birth_date), email=email, phone=phone,
                  contact_problems=problems)
    previous = policy.account_id
    with db.session.no_autoflush:  # a changed policy is not complete before the decision either
        holders = _holders(email, phone, previous)
    by_email = next((h for h in holders if email and h.email == email), None)
    by_phone = next((h for h in holders if phone and h.phone == phone), None)
    current = next((h for h in holders if previous and h.account_id == previous), None)
    decision = decide(facts, by_email=by_email, by_phone=by_phone, current=current)

    before = (policy.state, policy.reason)
    policy.state = {CREATE: ATTACHED, ATTACH: ATTACHED, HOLD: HELD}.get(decision.outcome, REFUSED)
    policy.reason, policy.notes = decision.reason, list(decision.notes)
    if policy.state in (HELD, REFUSED) and (policy.state, policy.reason) != before:
        # Once per change of state or reason: a recheck that finds nothing new adds nothing to the trail.
        record("policy.held" if policy.state == HELD else "policy.refused", at=now, number=policy.number,
               kind=policy.kind, reason=policy.reason)
    policy.detail = _detail(decision, by_email, by_phone)
    policy.account_id = decision.account_id
    deliveries: list[Delivery] = []
    account = None
    if decision.outcome == CREATE:
        account = create_account(email=email, phone=phone, full_name=policy.full_name, now=now)
        db.session.add(AccountPerson(account_id=account.id, name_key=facts.person.name_key,
                                     birth_date=facts.person.birth_date, created_at=now))
        policy.account_id = account.id
        result = ACCOUNT_CREATED
        log.debug("policy %s: account %s created", policy.number, account.id)
    elif decision.outcome == ATTACH:
        account = db.session.get(Account, decision.account_id)
        _attach(account, decision, facts, now,
                known_person=next(h for h in holders if h.account_id == decision.account_id))
        result = UPDATED if previous == account.id else ATTACHED_RESULT
    else:
        result = HELD_RESULT if decision.outcome == HOLD else REFUSED_RESULT
        log.debug("policy %s %s: %s", policy.number, result, decision.reason)
    db.session.add(policy)
    if decision.outcome == CREATE:
        deliveries = enqueue_welcome(services, account)  # flushes the policy and the person with it
    else:
        db.session.flush()
    outcome = _outcome(policy, result, subject=account.subject if account is not None else None)
    outcome.deliveries = deliveries
    gained_contacts = decision.outcome == CREATE or decision.add_email or decision.add_phone
    if release and account is not None and gained_contacts:
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
    # A UNION of one indexed look-up per contact: with an OR, SQLite would scan every held policy instead.
    lookups = [select(Policy.id).where(column == value, Policy.state == HELD, Policy.id != policy.id)
               for column, value in ((Policy.email_key, account.email), (Policy.phone_key, account.phone))
               if value]
    ids = sorted(set(db.session.execute(union_all(*lookups)).scalars()))[:MAX_RELEASED]
    if not ids:
        return []
    waiting = db.session.execute(select(Policy).where(Policy.id.in_(ids)).order_by(Policy.id)).scalars().all()
    released = []
    for other in waiting:
        if evaluate(services, other, release=False).state == ATTACHED:
            released.append(other.number)
    return released


def _holders(email: str | None, phone: str | None, account_id: int | None) -> list[Holder]:
    """The accounts with this e-mail, this phone or this id: one query over three unique indexes."""
    terms = [term for term, wanted in ((Account.email == email, email), (Account.phone == phone, phone),
                                       (Account.id == account_id, account_id)) if wanted]
    if not terms:
        return []
    rows = db.session.execute(
        select(Account.id, Account.email, Account.phone, Account.full_name, AccountPerson.name_key,
               AccountPerson.birth_date)
        .outerjoin(AccountPerson, AccountPerson.account_id == Account.id).where(or_(*terms))).all()
    # An account without a recorded person (made by an operator) is known by its name at most.
    return [Holder(account_id=row_id, email=row_email, phone=row_phone,
                   name_key=key if key is not None else (name_key(full_name) if full_name else None),
                   birth_date=birth)
            for row_id, row_email, row_phone, full_name, key, birth in rows]


def _detail(decision: Decision, by_email: Holder | None, by_phone: Holder | None) -> str | None:
    """Which accounts a held policy collides with, in words an admin can act on."""
    if decision.reason == "email_and_phone_match_different_accounts":
        return f"e-mail → account {by_email.account_id}; phone → account {by_phone.account_id}"
    if decision.reason in ("contact_belongs_to_another_person", "account_person_unknown"):
        matched = by_email or by_phone
        via = "e-mail" if by_email is not None else "phone"
        return f"{via} → account {matched.account_id}"
    return None


def _outcome(policy: Policy, result: str, *, subject: str | None) -> Outcome:
    return Outcome(number=policy.number, result=result, state=policy.state, reason=policy.reason,
                   detail=policy.detail, notes=tuple(policy.notes or ()), account_id=policy.account_id,
                   subject=subject)
