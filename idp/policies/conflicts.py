"""Whose accounts a held policy's e-mail and phone belong to now: the admin's report of the conflict.

Looked up live rather than read from the stored ``detail``, so once an admin has corrected an account
(``idp accounts update``) the report says the way is clear before anyone presses «Перепроверить».
Accounts are named by their logins, never by internal ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select

from idp.accounts import Account
from idp.extensions import db
from idp.policies.eligibility import Holder, Person, same_person
from idp.policies.facts import name_key
from idp.policies.models import AccountPerson, Policy

EMAIL, PHONE = "email", "phone"


@dataclass(frozen=True)
class Conflict:
    """The policy's ``contact`` (its e-mail or phone) is a login of this account."""

    contact: str  # EMAIL or PHONE
    login: str  # the account's login (its e-mail, else its phone)
    subject: str
    full_name: str | None
    #: The account's person as recorded (None: only a name, or nothing, is known).
    birth_date: date | None
    #: True: the policy's person; False: somebody else; None: the account's person is not recorded.
    same_person: bool | None

    def as_dict(self) -> dict:
        return {"contact": self.contact, "account": {"login": self.login, "subject": self.subject},
                "full_name": self.full_name,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None,
                "same_person": self.same_person}


def conflicts_for(policies: list[Policy]) -> dict[int, list[Conflict]]:
    """For each policy (by id), the accounts its valid e-mail and phone belong to: one query for them all."""
    emails = {p.email_key for p in policies if p.email_key}
    phones = {p.phone_key for p in policies if p.phone_key}
    terms = ([Account.email.in_(emails)] if emails else []) + ([Account.phone.in_(phones)] if phones else [])
    found: list[tuple[Account, AccountPerson | None]] = []
    if terms:
        found = list(db.session.execute(
            select(Account, AccountPerson).outerjoin(AccountPerson, AccountPerson.account_id == Account.id)
            .where(or_(*terms))).all())
    by_email = {account.email: (account, person) for account, person in found if account.email}
    by_phone = {account.phone: (account, person) for account, person in found if account.phone}
    report: dict[int, list[Conflict]] = {}
    for policy in policies:
        wanted = Person(name_key(policy.full_name), policy.birth_date)
        report[policy.id] = [_conflict(contact, *match, wanted)
                             for contact, match in ((EMAIL, by_email.get(policy.email_key)),
                                                    (PHONE, by_phone.get(policy.phone_key)))
                             if match is not None]
    return report


def _conflict(contact: str, account: Account, person: AccountPerson | None, wanted: Person) -> Conflict:
    # An account made by an operator has no recorded person: identity compares its name at most.
    key = person.name_key if person is not None else name_key(account.full_name) if account.full_name else None
    holder = Holder(account_id=account.id, email=account.email, phone=account.phone, name_key=key,
                    birth_date=person.birth_date if person is not None else None)
    return Conflict(contact=contact, login=account.login, subject=account.subject,
                    full_name=account.full_name, birth_date=holder.birth_date,
                    same_person=same_person(holder, wanted))
