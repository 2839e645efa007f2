"""``idp accounts …`` with ``--json``: create, show by any writing of the login, refuse duplicates."""
import json

import pytest


def test_create_and_show_by_any_login_writing(run_cli):
    result = run_cli("accounts", "create", "--email", "Ivan@Example.com", "--phone", "8 916 123 45 67",
                                 "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["email"] == "ivan@example.com" and created["phone"] == "+79161234567"
    assert created["has_password"] is False and "password_hash" not in created
    for login in ("IVAN@example.com", "+7 916 123-45-67", "8 (916) 123 45 67", "89161234567"):
        shown = run_cli("accounts", "show", login, "--json")
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["subject"] == created["subject"]


def test_subject_is_opaque(run_cli):
    created = json.loads(run_cli("accounts", "create", "--phone", "+79161234567", "--json").output)
    assert "9161234567" not in created["subject"] and len(created["subject"]) == 32


def test_duplicate_login_is_refused_without_partial_writes(run_cli):
    assert run_cli("accounts", "create", "--email", "a@example.com").exit_code == 0
    result = run_cli("accounts", "create", "--email", "b@example.com", "--phone", "+79161234567")
    assert result.exit_code == 0
    dup = run_cli("accounts", "create", "--email", "c@example.com", "--phone", "89161234567", "--json")
    assert dup.exit_code == 1 and json.loads(dup.output)["error"] == "account.exists"
    missing = run_cli("accounts", "show", "c@example.com", "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "account.not_found"


def test_bad_input_is_a_message_not_a_traceback(run_cli):
    for args in (["accounts", "create"], ["accounts", "create", "--email", "nope"],
                 ["accounts", "create", "--phone", "8 (495) 123-45-67"], ["accounts", "show", "???"]):
        result = run_cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_grant_admin(run_cli):
    run_cli("accounts", "create", "--email", "boss@example.com")
    result = run_cli("accounts", "grant-admin", "BOSS@example.com", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["is_admin"] is True
    run_cli("accounts", "grant-admin", "boss@example.com", "--json")  # already an admin: nothing new
    [event] = json.loads(run_cli("audit", "--json", "--event", "admin.action").output)
    assert event["account_id"] == json.loads(result.output)["id"]
    assert event["details"] == {"action": "grant_admin", "via": "cli"}


# -- idp accounts update ------------------------------------------------------------------------------------


def test_update_changes_contacts_name_and_birth_date(run_cli, app):
    from idp.audit import search

    created = json.loads(run_cli("accounts", "create", "--email", "agent@broker.example", "--name", "Сидоров Сидор",
                                 "--json").output)
    result = run_cli("accounts", "update", "AGENT@broker.example", "--email", "Sidorov@Example.com",
                     "--phone", "8 903 111 22 33", "--name", "  Сидоров   Сидор Петрович ", "--birth-date",
                     "1970-01-01", "--json")
    assert result.exit_code == 0, result.output
    updated = json.loads(result.output)
    assert updated["changed"] == ["email", "phone", "full_name", "birth_date"]
    assert (updated["email"], updated["phone"], updated["full_name"]) == (
        "sidorov@example.com", "+79031112233", "Сидоров Сидор Петрович")
    assert updated["subject"] == created["subject"] and updated["email_verified"] is False
    assert run_cli("accounts", "show", "agent@broker.example").exit_code == 1
    with app.app_context():
        from idp.extensions import db
        from idp.policies import AccountPerson

        person = db.session.get(AccountPerson, updated["id"])
        assert (person.name_key, person.birth_date.isoformat()) == ("сидоров сидор петрович", "1970-01-01")
        [event] = search(event="account.updated")
        assert event.account_id == updated["id"]
        assert event.details == {"fields": ["email", "phone", "full_name", "birth_date"], "via": "cli"}
        assert "sidorov" not in json.dumps(event.details) and "1970" not in json.dumps(event.details)


def test_update_with_the_same_values_changes_nothing_and_records_nothing(run_cli, app):
    from idp.audit import search

    run_cli("accounts", "create", "--email", "ivan@example.com", "--phone", "+79161234567")
    result = run_cli("accounts", "update", "ivan@example.com", "--email", "IVAN@example.com", "--phone",
                     "8 (916) 123-45-67", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["changed"] == []
    assert "changed: nothing" in run_cli("accounts", "update", "ivan@example.com", "--phone", "89161234567").output
    with app.app_context():
        assert search(event="account.updated") == []


def test_update_refuses_another_accounts_contact(run_cli):
    run_cli("accounts", "create", "--email", "ivan@example.com", "--phone", "+79161234567")
    run_cli("accounts", "create", "--email", "anna@example.com")
    for args, code in ((["--email", "Ivan@Example.com"], "account.email_taken"),
                       (["--phone", "8 916 123 45 67"], "account.phone_taken")):
        result = run_cli("accounts", "update", "anna@example.com", *args, "--json")
        assert result.exit_code == 1 and json.loads(result.output)["error"] == code
        human = run_cli("accounts", "update", "anna@example.com", *args)
        assert human.exit_code == 1 and f"{code}: this " in human.output and "another account" in human.output
    shown = json.loads(run_cli("accounts", "show", "anna@example.com", "--json").output)
    assert shown["phone"] is None


@pytest.mark.parametrize("args, code", [
    ([], "account.nothing_to_change"),
    (["--email", "nope"], "email.invalid"),
    (["--email", ""], "email.invalid"),
    (["--phone", "8 (495) 123-45-67"], "phone.invalid"),  # a landline: no SMS
    (["--phone", "+7 916"], "phone.invalid"),
    (["--name", "   "], "account.invalid_name"),
    (["--name", "123"], "account.invalid_name"),
    (["--name", "a\x00b"], "account.invalid_name"),
    (["--name", "Я" * 301], "account.invalid_name"),
    (["--birth-date", "17.05.1980"], "account.invalid_birth_date"),
    (["--birth-date", "1899-12-31"], "account.invalid_birth_date"),
    (["--birth-date", "2099-01-01"], "account.invalid_birth_date"),
    (["--birth-date", "2026-02-30"], "account.invalid_birth_date"),
    (["--birth-date", "1980-05-17"], "account.name_required"),  # no name to record the person with
])
def test_update_bad_input_is_a_coded_error_and_changes_nothing(run_cli, args, code):
    before = json.loads(run_cli("accounts", "create", "--email", "ivan@example.com", "--json").output)
    result = run_cli("accounts", "update", "ivan@example.com", *args, "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["error"] == code and "Traceback" not in result.output
    after = json.loads(run_cli("accounts", "show", "ivan@example.com", "--json").output)
    assert after == before


def test_update_unknown_login(run_cli):
    result = run_cli("accounts", "update", "nobody@example.com", "--name", "Иван", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "account.not_found"
    result = run_cli("accounts", "update", "???", "--name", "Иван", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "login.invalid"
