"""``idp policies issue|held|show|recheck`` with ``--json``."""
from __future__ import annotations

import json

IVAN = ["--name", "Иванов Иван Иванович", "--birth-date", "1980-05-17", "--email", "ivan@example.com",
        "--phone", "+7 916 123-45-67"]


def issue(run_cli, number, *extra, person=IVAN):
    return run_cli("policies", "issue", "--number", number, "--kind", "individual", "--product", "life",
                   "--start", "2026-01-15", "--end", "2027-01-14", *person, *extra, "--json")


def test_issue_creates_the_account_once(run_cli, mailbox):
    first = issue(run_cli, "LF-1")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["result"] == "account_created" and data["state"] == "attached" and data["account"]
    again = json.loads(issue(run_cli, "LF-1").stdout)
    assert again["result"] == "unchanged" and again["account"] == data["account"]
    assert len(mailbox.messages()) == 2
    shown = json.loads(run_cli("accounts", "show", "89161234567", "--json").stdout)
    assert shown["subject"] == data["account"]


def test_issue_human_output(run_cli):
    result = run_cli("policies", "issue", "--number", "CR-1", "--kind", "credit", "--product", "life",
                     "--start", "2026-01-15", "--end", "2027-01-14", *IVAN)
    assert result.exit_code == 0
    assert "policy CR-1: refused" in result.output and "credit_linked" in result.output


def test_corporate_issue_needs_the_employer_answer(run_cli):
    base = ["policies", "issue", "--number", "DMS-1", "--kind", "corporate", "--product", "dms",
            "--start", "2026-01-01", "--end", "2026-12-31", *IVAN, "--employer", "ООО «Ромашка»"]
    missing = run_cli(*base, "--json")
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"] == "policy.missing_field"
    without = json.loads(run_cli(*base, "--without-account", "--json").stdout)
    assert (without["state"], without["reason"]) == ("refused", "corporate_without_account")
    included = json.loads(run_cli(*base, "--includes-account", "--json").stdout)
    assert included["result"] == "account_created"


def test_bad_input_is_a_coded_error_not_a_traceback(run_cli):
    result = issue(run_cli, "LF-1", "--birth-date", "17.05.1980")
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    error = json.loads(result.stdout)
    assert error["error"] == "policy.invalid_date" and "person.birth_date" in error["error_description"]


def test_held_lists_what_gave_no_account_with_reasons(run_cli):
    issue(run_cli, "LF-1",
          person=["--name", "Иванов Иван", "--birth-date", "1980-05-17", "--email", "i@example.com"])
    run_cli("policies", "issue", "--number", "CR-1", "--kind", "credit", "--product", "life",
            "--start", "2026-01-15", "--end", "2027-01-14", *IVAN)
    issue(run_cli, "LF-2")
    rows = json.loads(run_cli("policies", "held", "--json").stdout)
    assert {(r["number"], r["state"], r["reason"]) for r in rows} == {
        ("LF-1", "held", "missing_phone"), ("CR-1", "refused", "credit_linked")}
    assert all(r["reason_text"] and r["account"] is None for r in rows)
    only_held = json.loads(run_cli("policies", "held", "--state", "held", "--json").stdout)
    assert [r["number"] for r in only_held] == ["LF-1"]
    by_reason = json.loads(run_cli("policies", "held", "--reason", "credit_linked", "--json").stdout)
    assert [r["number"] for r in by_reason] == ["CR-1"]
    human = run_cli("policies", "held").output
    assert "CR-1: refused credit_linked" in human


def test_show_and_not_found(run_cli):
    issue(run_cli, "LF-1")
    shown = json.loads(run_cli("policies", "show", "LF-1", "--json").stdout)
    assert shown["person"]["email"] == "ivan@example.com" and shown["account"]["subject"]
    assert shown["state"] == "attached" and shown["source"] == "cli"
    missing = run_cli("policies", "show", "NOPE", "--json")
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"] == "policy.not_found"


def test_recheck_after_an_admin_corrected_an_account(app, run_cli):
    issue(run_cli, "LF-1", person=["--name", "Сидоров Сидор", "--birth-date", "1970-01-01", "--email",
                                   "agent@broker.example", "--phone", "+7 903 111-22-33"])
    ivan = ["--name", "Иванов Иван Иванович", "--birth-date", "1980-05-17", "--email", "agent@broker.example",
            "--phone", "+7 916 123-45-67"]
    held = json.loads(issue(run_cli, "LF-2", person=ivan).stdout)
    assert held["reason"] == "contact_belongs_to_another_person"
    assert json.loads(run_cli("policies", "recheck", "LF-2", "--json").stdout)["state"] == "held"
    # The admin gives Сидоров his own e-mail instead of the agent's.
    updated = run_cli("accounts", "update", "agent@broker.example", "--email", "sidorov@example.com", "--json")
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["changed"] == ["email"]
    rechecked = json.loads(run_cli("policies", "recheck", "LF-2", "--json").stdout)
    assert rechecked["result"] == "account_created"
    assert json.loads(run_cli("accounts", "show", "agent@broker.example", "--json").stdout)["phone"] \
        == "+79161234567"
