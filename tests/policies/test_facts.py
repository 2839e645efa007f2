"""The policy document: what is accepted, normalised, and refused with which codes (a table)."""
from __future__ import annotations

from datetime import date

import pytest

from idp.policies import InvalidPolicy, name_key, parse_policy
from tests.policies.conftest import DROP, policy_doc

TODAY = date(2026, 11, 25)


def test_a_valid_policy_is_parsed_and_trimmed():
    data = parse_policy(policy_doc(number=" LF-1 ", person={"full_name": "  Иванов   Иван "}), today=TODAY)
    assert data.number == "LF-1" and data.full_name == "Иванов Иван"
    assert data.start_date == date(2026, 1, 15) and data.birth_date == date(1980, 5, 17)
    assert data.employer is None and data.includes_account is None


def test_contacts_are_kept_as_sent_even_when_invalid_or_missing():
    """A bad or missing contact is eligibility's business (the policy is held), not an input error."""
    data = parse_policy(policy_doc(person={"email": "not-an-address", "phone": DROP}), today=TODAY)
    assert data.email == "not-an-address" and data.phone is None


def test_corporate_policy_carries_employer_and_inclusion():
    data = parse_policy(policy_doc(kind="corporate", product="dms",
                                   employer={"name": "ООО «Ромашка»", "includes_account": False}), today=TODAY)
    assert data.employer == "ООО «Ромашка»" and data.includes_account is False


def test_fingerprint_is_the_content():
    one = parse_policy(policy_doc(number="LF-1"), today=TODAY)
    assert one.fingerprint() == parse_policy(policy_doc(number="LF-1"), today=TODAY).fingerprint()
    other = parse_policy(policy_doc(number="LF-1", status="terminated"), today=TODAY)
    assert one.fingerprint() != other.fingerprint()


@pytest.mark.parametrize("raw, key", [
    ("Иванов Иван Иванович", "иванов иван иванович"),
    ("  ИВАНОВ   иван\tИванович ", "иванов иван иванович"),
    ("Фёдоров Пётр", "федоров петр"),
    ("ФЁДОРОВ ПЁТР", "федоров петр"),
    ("Федоров Петр", "федоров петр"),
    ("Федоро\u0301в Петр", "федоро\u0301в петр"),  # a combining accent stays: not silently the same name
])
def test_name_key_ignores_case_yo_and_spacing(raw, key):
    assert name_key(raw) == key


@pytest.mark.parametrize("overrides, field, code", [
    ({"number": DROP}, "number", "policy.missing_field"),
    ({"number": "  "}, "number", "policy.missing_field"),
    ({"number": "LF 1"}, "number", "policy.invalid_number"),
    ({"number": "-LF1"}, "number", "policy.invalid_number"),
    ({"number": "L" * 65}, "number", "policy.invalid_field"),
    ({"number": 12345}, "number", "policy.invalid_field"),
    ({"kind": "group"}, "kind", "policy.invalid_kind"),
    ({"kind": DROP}, "kind", "policy.missing_field"),
    ({"product": "КАСКО"}, "product", "policy.invalid_product"),
    ({"status": "issued"}, "status", "policy.invalid_status"),
    ({"start_date": "15.01.2026"}, "start_date", "policy.invalid_date"),
    ({"start_date": "20260115"}, "start_date", "policy.invalid_date"),
    ({"start_date": "2026-02-30"}, "start_date", "policy.invalid_date"),
    ({"end_date": "2025-12-31"}, "end_date", "policy.dates_out_of_order"),
    ({"end_date": None}, "end_date", "policy.missing_field"),
    ({"person": DROP}, "person", "policy.missing_field"),
    ({"person": "Иванов"}, "person", "policy.invalid_field"),
    ({"person": {"full_name": DROP}}, "person.full_name", "policy.missing_field"),
    ({"person": {"full_name": "12345"}}, "person.full_name", "policy.invalid_name"),
    ({"person": {"full_name": "Иванов\x07Иван"}}, "person.full_name", "policy.control_character"),
    ({"person": {"full_name": "Иванов\x00Иван"}}, "person.full_name", "policy.control_character"),
    ({"person": {"full_name": "Иванов\tИван"}}, "person.full_name", "policy.control_character"),
    ({"person": {"full_name": "Иванов Иван" + " " * 290}}, "person.full_name", "policy.invalid_field"),
    ({"number": " " * 60 + "LF-1" + " " * 10}, "number", "policy.invalid_field"),
    ({"person": {"birth_date": "2027-01-01"}}, "person.birth_date", "policy.invalid_birth_date"),
    ({"person": {"birth_date": "1899-12-31"}}, "person.birth_date", "policy.invalid_birth_date"),
    ({"person": {"birth_date": DROP}}, "person.birth_date", "policy.missing_field"),
    ({"person": {"email": ["a@example.com"]}}, "person.email", "policy.invalid_field"),
    ({"person": {"phone": 79161234567}}, "person.phone", "policy.invalid_field"),
    ({"person": {"email": "a" * 300 + "@example.com"}}, "person.email", "policy.invalid_field"),
    ({"person": {"nickname": "Ваня"}}, "person.nickname", "policy.unknown_field"),
    ({"premium": 1000}, "premium", "policy.unknown_field"),
    ({"kind": "corporate"}, "employer", "policy.missing_field"),
    ({"kind": "corporate", "employer": {"name": "ООО"}}, "employer.includes_account", "policy.missing_field"),
    ({"kind": "corporate", "employer": {"name": "ООО", "includes_account": "yes"}}, "employer.includes_account",
     "policy.invalid_field"),
    ({"kind": "corporate", "employer": {"includes_account": True}}, "employer.name", "policy.missing_field"),
    ({"kind": "corporate", "employer": []}, "employer", "policy.invalid_field"),
    ({"employer": {"name": "ООО", "includes_account": True}}, "employer", "policy.field_not_allowed"),
    ({"employer": None}, "employer", "policy.employer_null"),
    ({"kind": "corporate", "employer": None}, "employer", "policy.employer_null"),
    ({"kind": "corporate", "employer": {"name": "ООО\x1b", "includes_account": True}}, "employer.name",
     "policy.control_character"),
])
def test_bad_documents_are_refused_with_field_and_code(overrides, field, code):
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(policy_doc(**overrides), today=TODAY)
    assert (field, code) in [(p.field, p.code) for p in caught.value.problems]
    assert caught.value.status == 400


@pytest.mark.parametrize("document", [None, [], "policy", 42])
def test_a_document_that_is_not_an_object(document):
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(document, today=TODAY)
    assert caught.value.code == "policy.not_an_object"


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy({"number": "LF-1", "kind": "x", "person": {}}, today=TODAY)
    fields = {p.field for p in caught.value.problems}
    assert {"kind", "product", "status", "start_date", "end_date", "person.full_name",
            "person.birth_date"} <= fields
    assert caught.value.code == caught.value.problems[0].code


@pytest.mark.parametrize("overrides, field, words", [
    ({"person": {"full_name": "Иванов\x00Иван"}}, "person.full_name", "NUL"),
    ({"person": {"email": "ivan@example.com\x00"}}, "person.email", "NUL"),
    ({"person": {"full_name": "Иванов\nИван"}}, "person.full_name", "control characters"),
    ({"employer": None}, "employer", "omit the field"),
])
def test_each_refusal_says_what_is_wrong(overrides, field, words):
    """A NUL in a short name was answered "at most 300 characters", a null employer was taken for none."""
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(policy_doc(**overrides), today=TODAY)
    [problem] = [p for p in caught.value.problems if p.field == field]
    assert words in problem.message and "at most" not in problem.message
