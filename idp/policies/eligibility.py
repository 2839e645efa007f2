"""Who gets an account, and which account a policy belongs to: one pure function, :func:`decide`.

The seed («Кому доступен личный кабинет», «Создание личного кабинета»): the policyholder of an
individual contract and the insured person of a corporate contract that includes the account get one;
credit-linked policies do not («пока недоступен»). An account needs the customer's *own* e-mail and
own mobile phone, and new policies join it automatically.

The rules, in order (the first that applies decides)::

    credit-linked policy                              → refused  credit_linked
    corporate contract without the account            → refused  corporate_without_account
    e-mail matches one account, phone another         → held     email_and_phone_match_different_accounts
    e-mail or phone matches an account …
        … whose person is not recorded                → held     account_person_unknown
        … of another person (name or birth date)      → held     contact_belongs_to_another_person
        … of this person                              → attach   (add contacts it lacks, never replace)
    already attached to this person's account         → attach   (corrected data for the same policy)
    no account yet, policy not in force               → refused  not_in_force
    no account yet, e-mail or phone missing/invalid   → held     missing_email, invalid_email, …
    otherwise                                         → create the account

"Refused" is a rule about the contract, "held" is waiting for data or an admin; both are re-evaluated
when corrected data for the same policy number arrives.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from idp.accounts.logins import normalize_email, normalize_phone
from idp.errors import BadRequest

CREATE = "create"
ATTACH = "attach"
HOLD = "hold"
REFUSE = "refuse"

#: Every reason code, with the words an admin reads in ``idp policies held`` and the import report.
REASONS = {
    "credit_linked": "credit-linked insurance: the client account is not available for it yet",
    "corporate_without_account": "the corporate contract does not include the client account",
    "not_in_force": "the policy is not in force, so it creates no account (it would join an existing one)",
    "missing_email": "the policy has no e-mail of the customer; an account needs the customer's own e-mail",
    "invalid_email": "the customer's e-mail on the policy is not a valid address",
    "missing_phone": "the policy has no mobile phone of the customer; an account needs the customer's own",
    "invalid_phone": "the customer's phone on the policy is not a valid mobile number",
    "contact_belongs_to_another_person":
        "the e-mail or phone already belongs to the account of another person (another name or birth date)",
    "email_and_phone_match_different_accounts":
        "the e-mail matches one account and the phone another; nothing was merged",
    "account_person_unknown":
        "the e-mail or phone belongs to an account whose holder is not recorded; an admin must confirm",
}
HELD_REASONS = ("missing_email", "invalid_email", "missing_phone", "invalid_phone",
                "contact_belongs_to_another_person", "email_and_phone_match_different_accounts",
                "account_person_unknown")
REFUSED_REASONS = ("credit_linked", "corporate_without_account", "not_in_force")

#: Notes on an attached policy: what was not taken from it.
NOTES = {
    "email_not_replaced": "the account keeps its e-mail; the policy's other e-mail was not taken",
    "phone_not_replaced": "the account keeps its phone; the policy's other phone was not taken",
    "invalid_email": REASONS["invalid_email"],
    "invalid_phone": REASONS["invalid_phone"],
}


@dataclass(frozen=True)
class Person:
    """Who a policy is about, as identity compares it: the normalised full name and the birth date."""

    name_key: str
    birth_date: date


@dataclass(frozen=True)
class Facts:
    """What eligibility needs to know about a policy."""

    kind: str
    in_force: bool
    includes_account: bool | None
    person: Person
    email: str | None  # normalised; None when missing or invalid
    phone: str | None  # E.164 mobile; None when missing or invalid
    contact_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Holder:
    """An existing account as eligibility sees it: its contacts and, if recorded, its person."""

    account_id: int
    email: str | None
    phone: str | None
    name_key: str | None = None
    birth_date: date | None = None  # None: only a name is known (an account made by an operator)


@dataclass(frozen=True)
class Decision:
    outcome: str  # CREATE, ATTACH, HOLD, REFUSE
    reason: str | None = None
    account_id: int | None = None
    add_email: bool = False
    add_phone: bool = False
    notes: tuple[str, ...] = ()
    #: The accounts a held policy collides with, for the admin's report.
    conflicting: tuple[int, ...] = ()


def check_contacts(email: str | None, phone: str | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Normalise a policy's e-mail and mobile phone; each one missing or invalid becomes a problem code."""
    problems: list[str] = []
    good_email = good_phone = None
    if not email:
        problems.append("missing_email")
    else:
        try:
            good_email = normalize_email(email)
        except BadRequest:
            problems.append("invalid_email")
    if not phone:
        problems.append("missing_phone")
    else:
        try:
            good_phone = normalize_phone(phone, mobile_only=True)
        except BadRequest:
            problems.append("invalid_phone")
    return good_email, good_phone, tuple(problems)


def same_person(holder: Holder, person: Person) -> bool | None:
    """True or False; None when the account's person is not recorded at all."""
    if holder.name_key is None:
        return None
    if holder.name_key != person.name_key:
        return False
    return holder.birth_date is None or holder.birth_date == person.birth_date


def decide(facts: Facts, *, by_email: Holder | None = None, by_phone: Holder | None = None,
           current: Holder | None = None) -> Decision:
    """The decision for one policy, given the accounts its e-mail and phone match and its current account."""
    if facts.kind == "credit":
        return Decision(REFUSE, "credit_linked")
    if facts.kind == "corporate" and not facts.includes_account:
        return Decision(REFUSE, "corporate_without_account")
    if by_email and by_phone and by_email.account_id != by_phone.account_id:
        return Decision(HOLD, "email_and_phone_match_different_accounts",
                        conflicting=(by_email.account_id, by_phone.account_id))
    matched = by_email or by_phone
    if matched is not None:
        same = same_person(matched, facts.person)
        if same is None:
            return Decision(HOLD, "account_person_unknown", conflicting=(matched.account_id,))
        if not same:
            return Decision(HOLD, "contact_belongs_to_another_person", conflicting=(matched.account_id,))
        return _attach(matched, facts)
    if current is not None and same_person(current, facts.person):
        return _attach(current, facts)
    if not facts.in_force:
        return Decision(REFUSE, "not_in_force")
    if facts.contact_problems:
        return Decision(HOLD, facts.contact_problems[0])
    return Decision(CREATE)


def _attach(holder: Holder, facts: Facts) -> Decision:
    """Join ``holder``'s account: take the contacts it lacks, note the ones it keeps instead."""
    notes = [code for code in facts.contact_problems if code.startswith("invalid_")]
    if facts.email and holder.email and facts.email != holder.email:
        notes.append("email_not_replaced")
    if facts.phone and holder.phone and facts.phone != holder.phone:
        notes.append("phone_not_replaced")
    return Decision(ATTACH, account_id=holder.account_id,
                    add_email=bool(facts.email and not holder.email),
                    add_phone=bool(facts.phone and not holder.phone),
                    notes=tuple(notes))
