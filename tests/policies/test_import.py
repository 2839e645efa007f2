"""``idp policies import FILE.csv``: streamed, batched, idempotent, with progress and a report."""
from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select

from idp.accounts import Account
from idp.extensions import db
from idp.policies import Policy, import_csv

HEADER = ("number,kind,product,status,start_date,end_date,full_name,birth_date,email,phone,employer,"
          "includes_account")
ROWS = [
    # line 2: an individual policyholder → account
    "LF-1,individual,life,active,2026-01-15,2027-01-14,Иванов Иван Иванович,1980-05-17,ivan@example.com,"
    "+79161234567,,",
    # line 3: the same person's ДМС through an employer that includes the account → attached
    "DMS-1,corporate,dms,active,2026-01-01,2026-12-31,ИВАНОВ ИВАН ИВАНОВИЧ,1980-05-17,ivan@example.com,"
    "8 916 123-45-67,ООО «Ромашка»,true",
    # line 4: a corporate contract without the account → refused
    "DMS-2,corporate,dms,active,2026-01-01,2026-12-31,Петров Пётр,1975-03-02,petr@example.com,+79037654321,"
    "АО «Завод»,false",
    # line 5: credit-linked → refused
    "CR-1,credit,life,active,2026-02-01,2031-01-31,Петров Пётр,1975-03-02,petr@example.com,+79037654321,,",
    # line 6: no e-mail → held
    "LF-2,individual,accident_illness,active,2026-03-01,2027-02-28,Сидорова Анна,1990-07-07,,+79031112233,,",
    # line 7: the agent's e-mail on another client's policy → held
    "LF-3,individual,life,active,2026-03-01,2027-02-28,Кузнецов Олег,1985-01-01,ivan@example.com,"
    "+79035556677,,",
    # line 8: a bad date → invalid
    "LF-4,individual,life,active,01.03.2026,2027-02-28,Смирнов Ян,1985-01-01,yan@example.com,+79035550000,,",
    # line 9: an unknown kind → invalid
    "LF-5,group,life,active,2026-03-01,2027-02-28,Смирнов Ян,1985-01-01,yan@example.com,+79035550000,,",
    # line 10: too few values → invalid
    "LF-6,individual,life",
    # line 11: a new person, all right → account
    "LF-7,individual,life,active,2026-03-01,2027-02-28,Смирнов Ян,1985-01-01,yan@example.com,+79035550000,,",
]


def write(tmp_path, rows, header=HEADER, name="policies.csv", encoding="utf-8") -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return str(path)


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_import_reports_created_attached_held_refused_and_invalid(tmp_path, run_cli, mailbox, app):
    result = run_cli("policies", "import", write(tmp_path, ROWS), "--batch", "3", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("rows", "account_created", "attached", "held", "refused", "invalid",
                                   "unchanged")} == {"rows": 10, "account_created": 2, "attached": 1, "held": 2,
                                                     "refused": 2, "invalid": 3, "unchanged": 0}
    assert report["reasons"] == {"corporate_without_account": 1, "credit_linked": 1, "missing_email": 1,
                                 "contact_belongs_to_another_person": 1, "policy.invalid_date": 1,
                                 "policy.invalid_kind": 1, "import.wrong_column_count": 1}
    problems = {p["line"]: (p["number"], p["result"], p["reason"]) for p in report["problems"]}
    assert problems == {4: ("DMS-2", "refused", "corporate_without_account"),
                        5: ("CR-1", "refused", "credit_linked"),
                        6: ("LF-2", "held", "missing_email"),
                        7: ("LF-3", "held", "contact_belongs_to_another_person"),
                        8: ("LF-4", "invalid", "policy.invalid_date"),
                        9: ("LF-5", "invalid", "policy.invalid_kind"),
                        10: ("LF-6", "invalid", "import.wrong_column_count")}
    assert "start_date" in next(p["detail"] for p in report["problems"] if p["line"] == 8)
    assert report["messages_queued"] == 4 and len(mailbox.messages()) == 4
    assert count(app, Account) == 2 and count(app, Policy) == 7  # invalid rows store nothing
    assert "10 rows: 2 accounts created" in result.stderr  # progress on stderr


def test_importing_the_same_file_twice_changes_nothing_and_sends_no_second_welcome(tmp_path, run_cli, mailbox,
                                                                                   app):
    path = write(tmp_path, ROWS)
    run_cli("policies", "import", path, "--json")
    with app.app_context():
        before = [(p.number, p.state, p.reason, p.account_id, p.updated_at)
                  for p in db.session.execute(select(Policy).order_by(Policy.number)).scalars()]
    again = json.loads(run_cli("policies", "import", path, "--json").stdout)
    assert again["unchanged"] == 7 and again["invalid"] == 3 and again["messages_queued"] == 0
    assert again["account_created"] == again["attached"] == again["held"] == again["refused"] == 0
    assert len(mailbox.messages()) == 4 and count(app, Account) == 2
    with app.app_context():
        after = [(p.number, p.state, p.reason, p.account_id, p.updated_at)
                 for p in db.session.execute(select(Policy).order_by(Policy.number)).scalars()]
    assert after == before


def test_a_corrected_file_releases_the_held_policy(tmp_path, run_cli, mailbox):
    run_cli("policies", "import", write(tmp_path, ROWS), "--json")
    fixed = [row.replace(",,+79031112233", ",anna@example.com,+79031112233") for row in ROWS]
    report = json.loads(run_cli("policies", "import", write(tmp_path, fixed, name="fixed.csv"), "--json").stdout)
    assert report["account_created"] == 1 and report["unchanged"] == 6
    assert mailbox.last("anna@example.com")["template"] == "account_created"


def test_semicolons_bom_russian_flags_and_any_column_order(tmp_path, run_cli):
    header = ("full_name;birth_date;number;kind;product;status;start_date;end_date;phone;email;employer;"
              "includes_account")
    rows = ["Иванов Иван;1980-05-17;DMS-1;corporate;dms;active;2026-01-01;2026-12-31;89161234567;"
            "ivan@example.com;ООО «Ромашка»;да",
            "Петров Пётр;1975-03-02;DMS-2;corporate;dms;active;2026-01-01;2026-12-31;+79037654321;"
            "petr@example.com;АО «Завод»;нет",
            "Петров Пётр;1975-03-02;DMS-3;corporate;dms;active;2026-01-01;2026-12-31;+79037654321;"
            "petr@example.com;АО «Завод»;может быть"]
    path = write(tmp_path, rows, header=header, encoding="utf-8-sig")
    report = json.loads(run_cli("policies", "import", path, "--json").stdout)
    assert (report["account_created"], report["refused"], report["invalid"]) == (1, 1, 1)
    assert report["reasons"]["policy.invalid_field"] == 1


def test_without_optional_columns(tmp_path, run_cli):
    header = "number,kind,product,status,start_date,end_date,full_name,birth_date"
    rows = ["LF-1,individual,life,active,2026-01-15,2027-01-14,Иванов Иван,1980-05-17"]
    report = json.loads(run_cli("policies", "import", write(tmp_path, rows, header=header), "--json").stdout)
    assert report["held"] == 1 and report["reasons"] == {"missing_email": 1}


def test_a_bad_header_stops_before_any_row(tmp_path, run_cli, app):
    for header in ("number,kind,product", HEADER + ",premium", HEADER + ",email", ""):
        result = run_cli("policies", "import", write(tmp_path, ROWS[:1], header=header), "--json")
        assert result.exit_code == 1, header
        assert json.loads(result.stdout)["error"] == "import.bad_header"
    assert count(app, Policy) == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = run_cli("policies", "import", str(empty), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["error"] == "import.bad_header"


def test_problems_file_and_human_report(tmp_path, run_cli):
    problems = tmp_path / "problems.csv"
    result = run_cli("policies", "import", write(tmp_path, ROWS), "--problems", str(problems), "--quiet")
    assert result.exit_code == 0, result.output
    assert "account_created: 2" in result.stdout and "credit_linked: 1" in result.stdout
    assert "line 5 CR-1: refused credit_linked" in result.stdout
    assert result.stderr == ""
    listed = list(csv.DictReader(problems.open(encoding="utf-8")))
    assert [(r["line"], r["reason"]) for r in listed][:2] == [("4", "corporate_without_account"),
                                                              ("5", "credit_linked")]
    assert len(listed) == 7


def test_the_report_keeps_a_bounded_list(app, monkeypatch):
    from idp.policies import importer

    monkeypatch.setattr(importer, "MAX_LISTED", 2)
    stream = io.StringIO("\n".join([HEADER, *[f"CR-{i},credit,life,active,2026-01-01,2026-12-31,Петров Пётр,"
                                              f"1975-03-02,p@example.com,+79037654321,," for i in range(5)]]))
    seen = []
    with app.app_context():
        report = import_csv(app.extensions["idp"], stream, batch_size=2, on_problem=seen.append)
    assert len(report.problems) == 2 and report.problems_left_off == 3 and len(seen) == 5


def test_the_problems_file_never_carries_a_spreadsheet_formula(tmp_path, run_cli):
    problems = tmp_path / "problems.csv"
    rows = ['"=HYPERLINK(""http://evil.example"")",individual,life,active,2026-01-15,2027-01-14,Иванов Иван,'
            '1980-05-17,ivan@example.com,+79161234567,,']
    result = run_cli("policies", "import", write(tmp_path, rows), "--problems", str(problems), "--quiet")
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(problems.open(encoding="utf-8")))
    assert row["number"].startswith("'=") and row["reason"] == "policy.invalid_number"


def test_a_windows_1251_file_imports_with_its_encoding_named(app, tmp_path, run_cli):
    path = write(tmp_path, ROWS[:1], encoding="cp1251")
    refused = run_cli("policies", "import", path, "--quiet")
    assert refused.exit_code == 1
    assert "import.bad_encoding" in refused.stderr and "line 2" in refused.stderr and "cp1251" in refused.stderr
    with app.app_context():
        assert count(app, Policy) == 0
    result = run_cli("policies", "import", path, "--encoding", "cp1251", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["account_created"] == 1
    with app.app_context():
        assert db.session.execute(select(Policy.number)).scalars().all() == ["LF-1"]


def test_a_bad_line_is_its_own_error_and_the_lines_around_it_are_imported(app, tmp_path, run_cli):
    path = tmp_path / "mixed.csv"
    good = "\n".join([HEADER, *ROWS[:2]]).encode("utf-8")
    bad = ROWS[3].encode("cp1251")
    path.write_bytes(good + b"\n" + bad + b"\n" + ROWS[4].encode("utf-8") + b"\n")
    result = run_cli("policies", "import", str(path), "--quiet", "--json", "--batch", "1")
    assert result.exit_code == 1 and "import.bad_encoding" in result.stderr and "line 4" in result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 4 and report["stopped"] is None
    assert [(p["line"], p["reason"]) for p in report["problems"]] == [(4, "import.bad_encoding"),
                                                                      (5, "missing_email")]
    with app.app_context():
        assert sorted(db.session.execute(select(Policy.number)).scalars()) == ["DMS-1", "LF-1", "LF-2"]


def test_an_unknown_encoding_is_refused_before_reading(tmp_path, run_cli):
    result = run_cli("policies", "import", write(tmp_path, ROWS[:1]), "--encoding", "klingon")
    assert result.exit_code == 2 and "unknown encoding 'klingon'" in result.output


def test_a_utf8_file_with_a_byte_order_mark_imports(app, tmp_path, run_cli):
    path = write(tmp_path, ROWS[:1], encoding="utf-8-sig")
    result = run_cli("policies", "import", path, "--quiet", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["account_created"] == 1
