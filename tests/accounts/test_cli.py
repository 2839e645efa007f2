"""``idp accounts …`` with ``--json``: create, show by any writing of the login, refuse duplicates."""
import json


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
