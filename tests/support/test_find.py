"""Finding an account: by any login, policy number or sub; by name only with a birth date."""
from __future__ import annotations

from datetime import date

import pytest

from idp.errors import BadRequest, NotFound
from idp.support import AccountNotFound, InvalidQuery, find_accounts, resolve_account


@pytest.mark.parametrize("ref", ["ivan@example.com", " IVAN@Example.COM ", "+7 916 123-45-67", "8 (916) 123-45-67",
                                 "89161234567", "+79161234567", "LF-SUP-000001"])
def test_resolve_by_login_or_policy(app, customer, ref):
    with app.app_context():
        assert resolve_account(ref).id == customer["account_id"]
        assert [a.id for a in find_accounts(ref)] == [customer["account_id"]]


def test_resolve_by_sub_any_case(app, customer):
    with app.app_context():
        assert resolve_account(customer["subject"]).id == customer["account_id"]
        assert resolve_account(customer["subject"].upper()).id == customer["account_id"]


@pytest.mark.parametrize("ref", ["nobody@example.com", "+7 916 000-00-00", "LF-NONE-1", "0" * 32])
def test_nothing_found(app, customer, ref):
    with app.app_context():
        with pytest.raises(AccountNotFound) as caught:
            resolve_account(ref)
        assert isinstance(caught.value, NotFound) and caught.value.code == "support.not_found"
        assert find_accounts(ref) == []


@pytest.mark.parametrize("ref", ["8 (916) 123-45", "+7 000 123-45-67", "ivan@", "a@b@c"])
def test_malformed_phone_or_email_is_a_clear_message(app, customer, ref):
    with app.app_context():
        for call in (resolve_account, find_accounts):
            with pytest.raises(InvalidQuery) as caught:
                call(ref)
            assert isinstance(caught.value, BadRequest)
            assert caught.value.code.startswith("support.query.")
            assert caught.value.description


@pytest.mark.parametrize("ref", ["", "   ", "x" * 301, "ivan\x00@example.com"])
def test_empty_or_garbage_query(app, ref):
    with app.app_context():
        with pytest.raises(InvalidQuery):
            find_accounts(ref)


def test_name_alone_is_too_broad(app, customer):
    with app.app_context():
        with pytest.raises(InvalidQuery) as caught:
            find_accounts("Иванов Иван Иванович")
        assert caught.value.code == "support.query.too_broad"
        assert "birth date" in caught.value.description


@pytest.mark.parametrize("name", ["Иванов Иван Иванович", "иванов иван", "ИВАНОВ", "Иван Иванов"])
def test_name_with_birth_date(app, customer, name):
    with app.app_context():
        assert [a.id for a in find_accounts(name, birth_date=date(1980, 5, 17))] == [customer["account_id"]]
        assert find_accounts(name, birth_date=date(1980, 5, 18)) == []


def test_name_yo_and_ye_are_one_letter(app):
    from idp.policies import issue_policy
    from tests.policies.conftest import policy_doc

    with app.app_context():
        issue_policy(app.extensions["idp"], policy_doc(person={"full_name": "Семёнов Пётр", "email": "p@example.com",
                                                               "phone": "+7 916 555-44-33"}), source="test")
        found = find_accounts("семенов петр", birth_date=date(1980, 5, 17))
        assert [a.email for a in found] == ["p@example.com"]
        assert [a.email for a in find_accounts("Семёнов", birth_date=date(1980, 5, 17))] == ["p@example.com"]
        assert find_accounts("Семёнова", birth_date=date(1980, 5, 17)) == []


def test_limit(app):
    from idp.policies import issue_policy
    from tests.policies.conftest import policy_doc

    with app.app_context():
        for n in range(3):
            issue_policy(app.extensions["idp"], policy_doc(person={"email": f"twin{n}@example.com",
                                                                   "phone": f"+7 916 555-44-3{n}"}), source="test")
        assert len(find_accounts("Иванов", birth_date=date(1980, 5, 17))) == 3
        assert len(find_accounts("Иванов", birth_date=date(1980, 5, 17), limit=2)) == 2


def test_operator_details():
    from idp.support import Operator

    op = Operator(login="cli:root", via="cli")
    assert op.details() == {"operator": "cli:root", "via": "cli"}
    with pytest.raises(ValueError):
        Operator(login="x", via="phone")
