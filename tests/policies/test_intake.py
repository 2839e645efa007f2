"""Intake through the domain: accounts appear, policies attach, holds and refusals are kept, messages go out."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.accounts import Account
from idp.delivery import QUEUED, Delivery
from idp.extensions import db
from idp.policies import AccountPerson, InvalidPolicy, Policy, claims_for, issue_policy
from tests.policies.conftest import DROP, policy_doc

PETR = {"full_name": "Петров Пётр Петрович", "birth_date": "1975-03-02", "email": "petr@example.com",
        "phone": "+7 903 765-43-21"}


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def account_of(app, login_column, value) -> Account | None:
    with app.app_context():
        account = db.session.execute(select(Account).where(login_column == value)).scalar_one_or_none()
        if account is not None:
            db.session.expunge(account)
        return account


def stored(app, number) -> Policy:
    with app.app_context():
        policy = db.session.execute(select(Policy).where(Policy.number == number)).scalar_one()
        db.session.expunge(policy)
        return policy


def test_an_individual_policy_creates_the_account_and_welcomes_on_both_channels(app, issue, mailbox):
    out = issue(number="LF-1", person={"email": "Ivan@Example.com", "phone": "8 (916) 123-45-67"})
    assert out["result"] == "account_created" and out["state"] == "attached" and out["new"] is True
    account = account_of(app, Account.email, "ivan@example.com")
    assert account.phone == "+79161234567" and account.full_name == "Иванов Иван Иванович"
    assert out["account"] == account.subject
    with app.app_context():
        person = db.session.get(AccountPerson, account.id)
        assert person.name_key == "иванов иван иванович" and person.birth_date.isoformat() == "1980-05-17"

    sms = mailbox.last("+79161234567")
    assert sms["template"] == "account_created" and sms["channel"] == "sms"
    assert sms["text"].startswith("Уважаемый клиент! Мы зарегистрировали Вас в Личном кабинете")
    assert "Логин - номер телефона" in sms["text"] and '"Забыли пароль?"' in sms["text"]
    assert app.extensions["idp"].settings.issuer in sms["text"]
    email = mailbox.last("ivan@example.com")
    assert email["template"] == "account_created" and email["subject"]
    assert "ivan@example.com" in email["text"] and "+7 916 123-45-67" in email["text"]  # names the login
    assert "Забыли пароль?" in email["text"] and "ivan@example.com" in email["html"]
    assert len(mailbox.messages()) == 2


def test_the_same_policy_again_changes_nothing_and_sends_nothing(app, issue, mailbox):
    document = policy_doc(number="LF-1")
    first = issue(document)
    again = issue(document)
    assert again["result"] == "unchanged" and again["account"] == first["account"] and again["new"] is False
    assert count(app, Account) == 1 and count(app, Policy) == 1 and len(mailbox.messages()) == 2


def test_a_new_policy_joins_the_existing_account_without_a_second_welcome(app, issue, mailbox):
    first = issue(number="LF-1")
    second = issue(number="DMS-7", kind="corporate", product="dms",
                   employer={"name": "ООО «Ромашка»", "includes_account": True},
                   person={"full_name": "ИВАНОВ  иван ИВАНОВИЧ", "email": "IVAN@example.com",
                           "phone": "89161234567"})
    assert second["result"] == "attached" and second["account"] == first["account"]
    assert count(app, Account) == 1 and len(mailbox.messages()) == 2
    account = account_of(app, Account.email, "ivan@example.com")
    with app.app_context():
        assert [c["number"] for c in claims_for(account.id)] == ["DMS-7", "LF-1"]  # newest first, then by number


@pytest.mark.parametrize("person, reason", [
    ({"email": DROP}, "missing_email"),
    ({"email": "   "}, "missing_email"),
    ({"email": "ivan@@example"}, "invalid_email"),
    ({"phone": DROP}, "missing_phone"),
    ({"phone": "8 (495) 123-45-67"}, "invalid_phone"),  # a landline is not a mobile phone
    ({"phone": "12-34"}, "invalid_phone"),
])
def test_without_own_email_and_mobile_no_account_until_corrected(app, issue, mailbox, person, reason):
    held = issue(number="LF-1", person=person)
    assert (held["result"], held["state"], held["reason"], held["account"]) == ("held", "held", reason, None)
    assert held["reason_text"]
    assert count(app, Account) == 0 and mailbox.messages() == []

    corrected = issue(number="LF-1")  # the same policy, with both contacts right
    assert corrected["result"] == "account_created" and corrected["new"] is False
    assert count(app, Account) == 1 and count(app, Policy) == 1 and len(mailbox.messages()) == 2
    assert stored(app, "LF-1").reason is None


def test_an_agents_email_on_another_clients_policy_is_held_not_merged(app, issue, mailbox):
    agent = "agent@broker.example"
    first = issue(number="LF-1", person={"email": agent})
    other = issue(number="LF-2", person={**PETR, "email": agent})
    assert (other["result"], other["reason"]) == ("held", "contact_belongs_to_another_person")
    assert other["account"] is None
    assert other["detail"] == "e-mail → account 1"
    account = account_of(app, Account.email, agent)
    assert account.subject == first["account"] and account.phone == "+79161234567"  # nothing of Петров in it
    assert count(app, Account) == 1 and len(mailbox.messages()) == 2
    with app.app_context():
        assert [c["number"] for c in claims_for(account.id)] == ["LF-1"]


def test_a_namesake_with_another_birth_date_is_another_person(app, issue):
    issue(number="LF-1")
    namesake = issue(number="LF-2", person={"birth_date": "1991-02-03", "email": "other@example.com"})
    assert (namesake["state"], namesake["reason"]) == ("held", "contact_belongs_to_another_person")
    assert namesake["detail"] == "phone → account 1"


def test_email_of_one_account_and_phone_of_another_merges_nothing(app, issue, mailbox):
    ivan = issue(number="LF-1")
    petr = issue(number="LF-2", person=PETR)
    mixed = issue(number="LF-3", person={"email": "ivan@example.com", "phone": PETR["phone"]})
    assert (mixed["state"], mixed["reason"]) == ("held", "email_and_phone_match_different_accounts")
    assert mixed["detail"] == "e-mail → account 1; phone → account 2"
    assert account_of(app, Account.email, "ivan@example.com").phone == "+79161234567"
    assert account_of(app, Account.email, "petr@example.com").phone == "+79037654321"
    assert ivan["account"] != petr["account"] and count(app, Account) == 2 and len(mailbox.messages()) == 4


@pytest.mark.parametrize("overrides, reason", [
    (dict(kind="credit"), "credit_linked"),
    (dict(kind="corporate", product="dms", employer={"name": "ООО «Ромашка»", "includes_account": False}),
     "corporate_without_account"),
])
def test_ineligible_policies_create_nothing_and_never_show_in_an_account(app, issue, mailbox, overrides,
                                                                         reason):
    lone = issue(number="X-1", **overrides)
    assert (lone["state"], lone["reason"]) == ("refused", reason)
    assert count(app, Account) == 0 and mailbox.messages() == []

    issue(number="LF-1")  # the same person gets an account through an eligible policy
    again = issue(number="X-2", **overrides)
    assert (again["state"], again["reason"], again["account"]) == ("refused", reason, None)
    account = account_of(app, Account.email, "ivan@example.com")
    with app.app_context():
        assert [c["number"] for c in claims_for(account.id)] == ["LF-1"]


def test_a_corporate_policy_including_the_account_creates_it(issue):
    out = issue(kind="corporate", product="accident_illness",
                employer={"name": "ООО «Ромашка»", "includes_account": True})
    assert out["result"] == "account_created"


def test_a_policy_not_in_force_creates_no_account_but_joins_one(app, issue):
    assert issue(number="LF-0", status="terminated")["reason"] == "not_in_force"
    issue(number="LF-1")
    old = issue(number="LF-2", status="expired")
    assert old["result"] == "attached"
    assert issue(number="LF-0", status="terminated", start_date="2026-01-01")["result"] == "attached"


def test_contacts_are_added_never_overwritten(app, issue):
    issue(number="LF-1")
    changed_phone = issue(number="LF-2", person={"phone": "+7 926 000-00-01"})
    assert changed_phone["result"] == "attached" and changed_phone["notes"] == ["phone_not_replaced"]
    assert account_of(app, Account.email, "ivan@example.com").phone == "+79161234567"
    assert account_of(app, Account.phone, "+79260000001") is None


def test_an_operator_made_account_gets_the_contact_it_lacks_and_its_person(app, issue, make_account):
    made = make_account(email="ivan@example.com", full_name="Иванов Иван Иванович")
    out = issue(number="LF-1")
    assert out["result"] == "attached" and out["account"] == made.subject
    account = account_of(app, Account.email, "ivan@example.com")
    assert account.phone == "+79161234567"
    with app.app_context():
        assert db.session.get(AccountPerson, account.id).birth_date.isoformat() == "1980-05-17"
    namesake = issue(number="LF-2", person={"birth_date": "1990-01-01"})
    assert namesake["reason"] == "contact_belongs_to_another_person"


def test_an_account_whose_person_is_unknown_is_left_to_an_admin(app, issue, make_account):
    make_account(email="ivan@example.com")
    out = issue(number="LF-1")
    assert (out["state"], out["reason"]) == ("held", "account_person_unknown")
    assert account_of(app, Account.email, "ivan@example.com").phone is None


def test_a_held_policy_joins_the_account_created_later_by_another_policy(app, issue, mailbox):
    waiting = issue(number="LF-1", person={"phone": DROP})
    assert waiting["reason"] == "missing_phone"
    created = issue(number="LF-2")
    assert created["result"] == "account_created" and created["released"] == ["LF-1"]
    assert stored(app, "LF-1").state == "attached" and len(mailbox.messages()) == 2


def test_corrected_data_reevaluates_an_attached_policy(app, issue):
    issue(number="LF-1")
    issue(number="LF-2")
    account = account_of(app, Account.email, "ivan@example.com")
    assert issue(number="LF-2", kind="credit")["state"] == "refused"
    with app.app_context():
        assert [c["number"] for c in claims_for(account.id)] == ["LF-1"]
    updated = issue(number="LF-1", status="terminated")
    assert updated["result"] == "updated" and updated["account"] == account.subject
    with app.app_context():
        assert claims_for(account.id)[0]["status"] == "terminated"


def test_claims_carry_the_policy_facts(app, issue):
    issue(number="LF-1", start_date="2025-01-01", end_date="2025-12-31", status="expired")  # not in force: refused
    issue(number="LF-2", product="accident_illness", start_date="2026-03-01", end_date="2027-02-28")
    issue(number="LF-1", start_date="2025-01-01", end_date="2025-12-31", status="expired",
          person={"email": "ivan@example.com"})  # unchanged data → still refused
    account = account_of(app, Account.email, "ivan@example.com")
    with app.app_context():
        assert claims_for(account.id) == [{"number": "LF-2", "kind": "individual", "product": "accident_illness",
                                           "status": "active", "start_date": "2026-03-01",
                                           "end_date": "2027-02-28"}]
        assert claims_for(account.id + 100) == []


def test_bad_input_writes_nothing(app, services):
    with app.app_context():
        with pytest.raises(InvalidPolicy):
            issue_policy(services, policy_doc(start_date="yesterday"), source="test")
    assert count(app, Policy) == 0 and count(app, Account) == 0


def test_a_failure_midway_leaves_nothing_half_written(app, services, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the outbox is unreachable")

    monkeypatch.setattr("idp.policies.intake.enqueue_welcome", broken)
    with app.app_context():
        with pytest.raises(RuntimeError):
            issue_policy(services, policy_doc(), source="test")
        db.session.rollback()  # what the request teardown does
    assert count(app, Policy) == 0 and count(app, Account) == 0 and count(app, AccountPerson) == 0


def test_in_worker_mode_the_welcome_is_queued_in_the_same_transaction(make_app, mailbox):
    app = make_app(delivery_mode="worker")
    with app.app_context():
        outcome = issue_policy(app.extensions["idp"], policy_doc(), source="test")
        rows = db.session.execute(select(Delivery)).scalars().all()
        assert sorted((r.channel, r.status, r.template) for r in rows) == [
            ("email", QUEUED, "account_created"), ("sms", QUEUED, "account_created")]
        assert {r.account_id for r in rows} == {outcome.account_id}
    assert mailbox.messages() == []


def test_a_concurrent_writer_taking_the_contact_first_is_met_by_a_retry(app, services, monkeypatch):
    """Another instance creates the same person's account between our look-up and our insert."""
    from idp.policies import intake

    real_decide = intake.decide
    calls = []

    def racing_decide(facts, **matches):
        calls.append(matches)
        if len(calls) == 1:
            with db.engine.connect() as other:  # a separate connection: the other instance
                with Session(bind=other) as session:
                    row = Account(email="ivan@example.com", phone="+79161234567",
                                  full_name="Иванов Иван Иванович", created_at=services.clock.now())
                    session.add(row)
                    session.flush()
                    session.add(AccountPerson(account_id=row.id, name_key=facts.person.name_key,
                                              birth_date=facts.person.birth_date,
                                              created_at=services.clock.now()))
                    session.commit()
        return real_decide(facts, **matches)

    monkeypatch.setattr(intake, "decide", racing_decide)
    with app.app_context():
        outcome = issue_policy(services, policy_doc(), source="test")
    assert outcome.result == "attached" and len(calls) == 2
    assert count(app, Account) == 1
