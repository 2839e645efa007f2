"""The eligibility rules as tables: policy facts + the accounts its contacts match → the decision."""
from __future__ import annotations

from datetime import date

import pytest

from idp.policies import REASONS, Facts, Holder, Person, decide
from idp.policies.eligibility import (ATTACH, CREATE, HELD_REASONS, HOLD, REFUSE, REFUSED_REASONS,
                                      check_contacts)

IVAN = Person("иванов иван иванович", date(1980, 5, 17))
EMAIL, PHONE = "ivan@example.com", "+79161234567"


def facts(kind="individual", *, in_force=True, includes=None, person=IVAN, email=EMAIL, phone=PHONE,
          problems=()):
    return Facts(kind=kind, in_force=in_force, includes_account=includes, person=person, email=email,
                 phone=phone, contact_problems=problems)


def holder(account_id=1, email=EMAIL, phone=PHONE, name="иванов иван иванович", birth=date(1980, 5, 17)):
    return Holder(account_id=account_id, email=email, phone=phone, name_key=name, birth_date=birth)


# Who gets an account at all (the seed's «Кому доступен личный кабинет»), with no account matched yet.
@pytest.mark.parametrize("policy, outcome, reason", [
    (facts("individual"), CREATE, None),
    (facts("corporate", includes=True), CREATE, None),
    (facts("corporate", includes=False), REFUSE, "corporate_without_account"),
    (facts("corporate", includes=None), REFUSE, "corporate_without_account"),
    (facts("credit"), REFUSE, "credit_linked"),
    (facts("individual", in_force=False), REFUSE, "not_in_force"),
    (facts(email=None, problems=("missing_email",)), HOLD, "missing_email"),
    (facts(email=None, problems=("invalid_email",)), HOLD, "invalid_email"),
    (facts(phone=None, problems=("missing_phone",)), HOLD, "missing_phone"),
    (facts(phone=None, problems=("invalid_phone",)), HOLD, "invalid_phone"),
    (facts(email=None, phone=None, problems=("missing_email", "missing_phone")), HOLD, "missing_email"),
    (facts("credit", email=None, problems=("missing_email",)), REFUSE, "credit_linked"),
    (facts("corporate", includes=False, phone=None, problems=("invalid_phone",)), REFUSE,
     "corporate_without_account"),
])
def test_who_gets_an_account(policy, outcome, reason):
    decision = decide(policy)
    assert (decision.outcome, decision.reason) == (outcome, reason)
    assert decision.account_id is None


# Matching: which account a policy joins, and when nothing is merged.
OTHER = holder(2, email="petr@example.com", phone="+79169998877", name="петров петр", birth=date(1975, 1, 1))


@pytest.mark.parametrize("case, kwargs, outcome, reason, account_id", [
    ("e-mail and phone match the same account", dict(by_email=holder(), by_phone=holder()), ATTACH, None, 1),
    ("only the e-mail matches", dict(by_email=holder(phone="+79160000000")), ATTACH, None, 1),
    ("only the phone matches", dict(by_phone=holder(email="old@example.com")), ATTACH, None, 1),
    ("e-mail one account, phone another", dict(by_email=holder(1), by_phone=OTHER), HOLD,
     "email_and_phone_match_different_accounts", None),
    ("agent's e-mail on another client's policy", dict(by_email=holder(name="сидорова анна")), HOLD,
     "contact_belongs_to_another_person", None),
    ("same name, another birth date (namesake)", dict(by_phone=holder(birth=date(1981, 5, 17))), HOLD,
     "contact_belongs_to_another_person", None),
    ("account without a recorded person", dict(by_email=holder(name=None, birth=None)), HOLD,
     "account_person_unknown", None),
    ("operator-made account with the same name", dict(by_email=holder(birth=None)), ATTACH, None, 1),
    ("operator-made account with another name", dict(by_email=holder(name="петров петр", birth=None)), HOLD,
     "contact_belongs_to_another_person", None),
    ("corrected contacts of an attached policy", dict(current=holder(7, email="x@example.com", phone=None)),
     ATTACH, None, 7),
    ("current account is another person's now", dict(current=OTHER), CREATE, None, None),
])
def test_matching(case, kwargs, outcome, reason, account_id):
    decision = decide(facts(), **kwargs)
    assert (decision.outcome, decision.reason, decision.account_id) == (outcome, reason, account_id), case


@pytest.mark.parametrize("policy, kwargs, reason", [
    (facts("credit"), dict(by_email=holder(), by_phone=holder()), "credit_linked"),
    (facts("corporate", includes=False), dict(by_email=holder()), "corporate_without_account"),
    (facts("credit"), dict(current=holder()), "credit_linked"),
])
def test_an_ineligible_policy_never_joins_an_existing_account(policy, kwargs, reason):
    decision = decide(policy, **kwargs)
    assert (decision.outcome, decision.reason, decision.account_id) == (REFUSE, reason, None)


@pytest.mark.parametrize("policy, match, add_email, add_phone, notes", [
    # the account lacks a contact the policy brings: it is added
    (facts(), holder(phone=None), False, True, ()),
    (facts(), holder(email=None), True, False, ()),
    # the account has another one: kept, and the policy says so
    (facts(phone="+79160000000"), holder(), False, False, ("phone_not_replaced",)),
    (facts(email="new@example.com"), holder(), False, False, ("email_not_replaced",)),
    # a policy with a bad contact still joins the account its good contact matches
    (facts(email=None, problems=("invalid_email",)), holder(), False, False, ("invalid_email",)),
    (facts(email=None, problems=("missing_email",)), holder(), False, False, ()),
    # a policy not in force joins an existing account (the customer sees its history)
    (facts(in_force=False), holder(), False, False, ()),
])
def test_contacts_are_added_never_replaced(policy, match, add_email, add_phone, notes):
    decision = decide(policy, by_email=match if match.email == policy.email else None,
                      by_phone=match if match.phone == policy.phone else None)
    assert decision.outcome == ATTACH
    assert (decision.add_email, decision.add_phone, decision.notes) == (add_email, add_phone, notes)


@pytest.mark.parametrize("email, phone, expected", [
    ("Ivan@Example.COM", "8 (916) 123-45-67", ("ivan@example.com", "+79161234567", ())),
    (None, "89161234567", (None, "+79161234567", ("missing_email",))),
    ("", "", (None, None, ("missing_email", "missing_phone"))),
    ("ivan@", "+79161234567", (None, "+79161234567", ("invalid_email",))),
    ("ivan@example.com", "8 (495) 123-45-67", ("ivan@example.com", None, ("invalid_phone",))),  # a landline
    ("ivan@example.com", "12345", ("ivan@example.com", None, ("invalid_phone",))),
])
def test_contact_checks(email, phone, expected):
    assert check_contacts(email, phone) == expected


def test_every_reason_has_words_and_a_kind():
    assert set(HELD_REASONS) | set(REFUSED_REASONS) == set(REASONS)
    assert not set(HELD_REASONS) & set(REFUSED_REASONS)
