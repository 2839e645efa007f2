"""Correcting whose an account is: the name and birth date eligibility compares a policy's person with.

An admin who fixes a held policy's account (``idp accounts update LOGIN --name … --birth-date …``)
changes the account's recorded person here, so the next evaluation compares against the corrected one.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from idp.accounts import Account
from idp.errors import BadRequest
from idp.extensions import db
from idp.policies.facts import EARLIEST_BIRTH, name_key
from idp.policies.models import AccountPerson

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_birth_date(text: str, *, today: date) -> date:
    """A birth date typed as YYYY-MM-DD, from 1900-01-01 to today; else ``account.invalid_birth_date``."""
    text = (text or "").strip()
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"a birth date as YYYY-MM-DD; got {text[:20]!r}",
                         code="account.invalid_birth_date") from None
    if not EARLIEST_BIRTH <= value <= today:
        raise BadRequest(f"the birth date must lie between {EARLIEST_BIRTH.isoformat()} and today",
                         code="account.invalid_birth_date")
    return value


def correct_person(account: Account, *, name_changed: bool, birth_date: date | None,
                   now: datetime) -> list[str]:
    """Bring the account's recorded person in line (flushed, not committed); the names of what changed.

    A recorded person takes the account's new name; a birth date is recorded or corrected. An account
    with no recorded person gets one only with a birth date, and then it needs a name.
    """
    person = db.session.get(AccountPerson, account.id)
    if person is None:
        if birth_date is None:
            return []  # nothing recorded: eligibility compares the account's name, which is already changed
        if not account.full_name:
            raise BadRequest("the account has no name: give --name together with --birth-date",
                             code="account.name_required")
        db.session.add(AccountPerson(account_id=account.id, name_key=name_key(account.full_name),
                                     birth_date=birth_date, created_at=now))
        db.session.flush()
        return ["birth_date"]
    changed = []
    if name_changed and account.full_name and person.name_key != name_key(account.full_name):
        person.name_key = name_key(account.full_name)
    if birth_date is not None and person.birth_date != birth_date:
        person.birth_date = birth_date
        changed.append("birth_date")
    db.session.flush()
    return changed
