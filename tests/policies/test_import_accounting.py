"""Issue 22, finding 3: the policy import accounts for every line of the file.

A malformed line (a stray quote, an oversized field, a wrong number of values, bytes that are not text) is
that line's error and never takes the lines after it along; a failure of the database or of the file
mid-way keeps what was stored before it and says which lines were stored, which not and which not read.
"""
from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from idp.extensions import db
from idp.policies import Policy, import_csv
from idp.policies.importer import MAX_LINE, decoded_lines
from tests.policies.conftest import policy_doc
from tests.policies.test_import import HEADER, write

STORED = ("account_created", "attached", "updated", "unchanged", "held", "refused")


def row(doc: dict | None = None, **overrides) -> str:
    """A valid CSV line for ``policy_doc(**overrides)`` (the test factory of valid policies)."""
    doc = doc or policy_doc(**overrides)
    person = doc["person"]
    return ",".join([doc["number"], doc["kind"], doc["product"], doc["status"], doc["start_date"],
                     doc["end_date"], person["full_name"], person["birth_date"], person.get("email") or "",
                     person.get("phone") or "", "", ""])


def stored_numbers(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(select(Policy.number)).scalars())


def assert_adds_up(report: dict, lines: int) -> None:
    """Every line is the header, a blank line or a row; every row has exactly one result."""
    assert report["lines"] == lines
    assert report["header"] + report["blank"] + report["rows"] == report["lines"]
    assert sum(report[name] for name in (*STORED, "invalid", "not_stored")) == report["rows"]


def test_a_stray_quote_is_its_own_line_error_and_swallows_none_of_the_rows_after_it(tmp_path, run_cli, app):
    before = [row() for _ in range(2)]
    after = [row() for _ in range(10)]
    stray = row(person={"full_name": '"Кавычкин Иван'})
    result = run_cli("policies", "import", write(tmp_path, [*before, stray, *after]), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert_adds_up(report, 14)
    assert report["rows"] == 13 and report["invalid"] == 1
    [problem] = report["problems"]
    assert (problem["line"], problem["result"], problem["reason"]) == (4, "invalid", "import.unclosed_quote")
    assert problem["number"] == stray.split(",")[0] and "quote" in problem["detail"]
    assert stored_numbers(app) == {line.split(",")[0] for line in before + after}


def test_an_oversized_field_is_a_row_error_not_a_traceback_and_the_row_before_it_is_stored(tmp_path, run_cli,
                                                                                          app):
    first, last = row(), row()
    huge = row(person={"full_name": "Я" * 131_073})
    result = run_cli("policies", "import", write(tmp_path, [first, huge, last]), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = json.loads(result.stdout)
    assert_adds_up(report, 4)
    [problem] = report["problems"]
    assert (problem["line"], problem["reason"]) == (3, "import.line_too_long")
    assert f"{MAX_LINE:,}" in problem["detail"]
    assert stored_numbers(app) == {first.split(",")[0], last.split(",")[0]}


def test_quotes_that_are_right_still_work_and_other_quote_errors_are_named(tmp_path, run_cli, app):
    quoted = row(person={"full_name": "Кавычкин Иван"}).replace("Кавычкин Иван", '"Кавычкин ""Ваня"" Иван"')
    after_quote = row(person={"full_name": "Кавычкин Иван"}).replace("Кавычкин Иван", '"Кавычкин"Иван')
    result = run_cli("policies", "import", write(tmp_path, [quoted, after_quote]), "--json", "--quiet")
    report = json.loads(result.stdout)
    assert_adds_up(report, 3)
    assert [(p["line"], p["reason"]) for p in report["problems"]] == [(3, "import.stray_quote")]
    with app.app_context():
        [name] = db.session.execute(select(Policy.full_name)).scalars()
    assert name == 'Кавычкин "Ваня" Иван'


def test_the_report_counts_the_header_and_blank_lines_so_the_lines_add_up(tmp_path, run_cli):
    rows = ["", row(), "   ", ",,,,,,,,,,,", row(), "LF-9,individual,life", ""]
    result = run_cli("policies", "import", write(tmp_path, rows), "--json", "--quiet")
    report = json.loads(result.stdout)
    assert_adds_up(report, 8)  # the final newline ends line 8; it starts no line 9
    assert (report["header"], report["blank"], report["rows"], report["invalid"]) == (1, 4, 3, 1)
    human = run_cli("policies", "import", write(tmp_path, rows, name="again.csv"), "--quiet").stdout
    assert "lines: 8 = 1 header + 4 blank + 3 rows" in human


def test_a_line_that_is_not_text_is_its_own_error_and_the_lines_after_it_are_imported(app, tmp_path, run_cli):
    first, bad, last = row(), row(person={"full_name": "Петров Пётр"}), row()
    path = tmp_path / "mixed.csv"
    path.write_bytes("\n".join([HEADER, first]).encode() + b"\n" + bad.encode("cp1251") + b"\n"
                     + last.encode() + b"\n")
    result = run_cli("policies", "import", str(path), "--quiet", "--json")
    assert result.exit_code == 1  # a line in another encoding: the operator should look at --encoding
    report = json.loads(result.stdout)
    assert_adds_up(report, 4)
    assert report["stopped"] is None
    [problem] = report["problems"]
    assert (problem["line"], problem["reason"]) == (3, "import.bad_encoding")
    assert "cp1251" in problem["detail"]
    assert stored_numbers(app) == {first.split(",")[0], last.split(",")[0]}


def test_a_database_failure_mid_file_keeps_the_stored_batches_and_says_which_lines_were_not(app):
    rows = [row() for _ in range(10)]
    renamed = []

    def progress(report):
        if not renamed:  # after the first batch: the database stops answering for policies
            db.session.execute(text("ALTER TABLE policies RENAME TO policies_away"))
            db.session.commit()
            renamed.append(True)

    with app.app_context():
        stream = io.StringIO("\n".join([HEADER, *rows]) + "\n")
        report = import_csv(app.extensions["idp"], stream, batch_size=4, progress=progress).as_dict()
        db.session.rollback()
        db.session.execute(text("ALTER TABLE policies_away RENAME TO policies"))
        db.session.commit()
    assert report["stopped"]["error"] == "import.store_failed"
    assert report["stopped"]["line"] == 9  # lines 10 and 11 were not read
    assert "policies" in report["stopped"]["error_description"]  # the database's own words: no such table
    assert_adds_up(report, 9)
    assert (report["rows"], report["not_stored"]) == (8, 4)
    assert [(p["line"], p["result"]) for p in report["problems"]] == [(n, "not_stored") for n in (6, 7, 8, 9)]
    assert stored_numbers(app) == {line.split(",")[0] for line in rows[:4]}


def refuse_in_the_database(numbers: list[str]) -> None:
    """A trigger that makes the database itself fail to insert these policy numbers (not a constraint
    violation, which the intake takes for a race): an overflow on SQLite, data_exception on PostgreSQL."""
    db.session.execute(text("CREATE TABLE refused_numbers (number VARCHAR(64) PRIMARY KEY)"))
    for number in numbers:
        db.session.execute(text("INSERT INTO refused_numbers VALUES (:number)"), {"number": number})
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION refuse_number() RETURNS trigger AS $$ BEGIN "
            "IF NEW.number IN (SELECT number FROM refused_numbers) THEN "
            "RAISE EXCEPTION 'the database refuses %', NEW.number USING ERRCODE = 'data_exception'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"))
        db.session.execute(text("CREATE TRIGGER refuse_number BEFORE INSERT ON policies FOR EACH ROW "
                                "EXECUTE FUNCTION refuse_number()"))
    else:
        db.session.execute(text("CREATE TRIGGER refuse_number BEFORE INSERT ON policies "
                                "WHEN NEW.number IN (SELECT number FROM refused_numbers) "
                                "BEGIN SELECT abs(-9223372036854775808); END"))
    db.session.commit()


def test_a_row_the_database_alone_refuses_keeps_none_of_the_others_out(app, run_cli, tmp_path):
    rows = [row() for _ in range(5)]
    refused = rows[2].split(",")[0]
    with app.app_context():
        refuse_in_the_database([refused])
    for batch in ("500", "1"):
        with app.app_context():
            db.session.execute(text("DELETE FROM policies"))
            db.session.commit()
        result = run_cli("policies", "import", write(tmp_path, rows), "--json", "--quiet", "--batch", batch)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert_adds_up(report, 6)
        assert report["stopped"] is None and report["not_stored"] == 1
        [problem] = report["problems"]
        assert (problem["line"], problem["number"], problem["result"]) == (4, refused, "not_stored")
        assert stored_numbers(app) == {line.split(",")[0] for line in rows} - {refused}


def test_a_file_that_fails_mid_way_keeps_the_rows_read_before_it(app):
    rows = [row() for _ in range(3)]

    def lines():
        yield HEADER + "\n"
        for line in rows:
            yield line + "\n"
        raise OSError("Input/output error")

    with app.app_context():
        report = import_csv(app.extensions["idp"], lines(), batch_size=500).as_dict()
    assert report["stopped"]["error"] == "import.read_failed" and report["stopped"]["line"] == 4
    assert "Input/output error" in report["stopped"]["error_description"]
    assert_adds_up(report, 4)
    assert stored_numbers(app) == {line.split(",")[0] for line in rows}


# -- every line accounted for, whatever corrupts the file ---------------------------------------------------

#: What a corruption does to a valid line, and the reason the importer must give for it (None: any result).
CORRUPTIONS = {
    "stray_quote": "import.unclosed_quote",
    "oversized_field": "import.line_too_long",
    "missing_value": "import.wrong_column_count",
    "extra_value": "import.wrong_column_count",
    "garbage_bytes": "import.bad_encoding",
    "blank": None,
}


def corrupt(line: str, how: str, where: int, junk: bytes) -> bytes:
    fields = line.split(",")
    where %= len(fields)
    if how == "stray_quote":
        fields[where] = '"' + fields[where]
    elif how == "oversized_field":
        fields[where] = "x" * 131_073
    elif how == "missing_value":
        del fields[where]
    elif how == "extra_value":
        fields.insert(where, "лишнее")
    elif how == "garbage_bytes":
        encoded = [field.encode() for field in fields]
        encoded[where] = b"\xff" + junk.replace(b"\n", b"") + encoded[where]
        return b",".join(encoded)
    elif how == "blank":
        return b""
    return ",".join(fields).encode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 12),
       corruptions=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(sorted(CORRUPTIONS)),
                                      st.integers(0, 11), st.binary(max_size=8)), max_size=6),
       crlf=st.booleans(), batch=st.integers(1, 4))
def test_every_line_of_a_randomly_corrupted_file_is_accounted_for(app, size, corruptions, crlf, batch):
    """Valid files with random lines corrupted (or corrupt lines put between them): every line is the header,
    a blank line or a row with one result; every corrupted line is its own error with its line number; every
    valid line is stored, however close to a corruption."""
    valid = [row() for _ in range(size)]
    lines: list[tuple[bytes, str, str]] = [(line.encode(), line.split(",")[0], "valid") for line in valid]
    for position, how, where, junk in corruptions:
        position %= len(lines) + 1
        if position < len(lines) and lines[position][2] == "valid" and position % 2:
            source = lines[position][0].decode()  # this valid line is corrupted in place
            lines[position] = (corrupt(source, how, where, junk), source.split(",")[0], how)
        else:  # a corrupted line of its own, between (or around) the valid ones
            source = row()
            lines.insert(position, (corrupt(source, how, where, junk), source.split(",")[0], how))
    newline = b"\r\n" if crlf else b"\n"
    data = newline.join([HEADER.encode(), *(line for line, _, _ in lines)]) + newline

    before = stored_numbers(app)
    with app.app_context():
        report = import_csv(app.extensions["idp"], decoded_lines(io.BytesIO(data)),
                            batch_size=batch).as_dict()
    assert report["stopped"] is None
    assert_adds_up(report, 1 + len(lines))
    assert report["blank"] == sum(how == "blank" for _, _, how in lines)
    problems = {p["line"]: p for p in report["problems"]}
    assert len(problems) == len(report["problems"])  # one result per line
    for index, (_, number, how) in enumerate(lines, 2):
        if how == "valid" or how == "blank":
            assert problems.get(index, {}).get("result") != "invalid", (index, how, problems.get(index))
        else:
            assert (problems[index]["result"], problems[index]["reason"]) == ("invalid", CORRUPTIONS[how]), \
                (index, how)
    new = stored_numbers(app) - before
    assert new == {number for _, number, how in lines if how == "valid"}
    assert report["invalid"] == sum(how not in ("valid", "blank") for _, _, how in lines)
