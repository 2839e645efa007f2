"""Login normalisation: every usual writing of a Russian mobile is one login; e-mails ignore case."""
import pytest

from idp.accounts import InvalidLogin, normalize_phone, parse_login


@pytest.mark.parametrize("typed", [
    "+7 916 123-45-67", "8 (916) 123 45 67", "89161234567", "+79161234567", "7 916 123 45 67",
    " 8-916-123-45-67 ", "8 916 1234567", "(916) 123-45-67",
])
def test_russian_mobile_writings_are_one_login(typed):
    login = parse_login(typed)
    assert (login.kind, login.value) == ("phone", "+79161234567")


@pytest.mark.parametrize("typed, expected", [
    ("Client@Example.com", "client@example.com"),
    ("  client@example.com  ", "client@example.com"),
    ("CLIENT@EXAMPLE.COM", "client@example.com"),
    ("иван@пример.рф", "иван@пример.рф"),
])
def test_emails_are_case_insensitive(typed, expected):
    login = parse_login(typed)
    assert (login.kind, login.value) == ("email", expected)


@pytest.mark.parametrize("typed", [
    "", "   ", "not a login", "client@", "@example.com", "client@example", "12345", "+7 916 123",
    "8916123456789012", "a" * 300 + "@example.com", "client\x00@example.com", "+7 916 123-45-67\r\nX: y",
    "8 (916) 123 45 67 доб. 5", "<script>@x.ru",
])
def test_garbage_is_refused_with_a_clear_code(typed):
    with pytest.raises(InvalidLogin) as caught:
        parse_login(typed)
    assert caught.value.code == "login.invalid"


def test_landline_is_not_a_mobile_phone():
    assert normalize_phone("8 (495) 123-45-67") == "+74951234567"
    with pytest.raises(Exception) as caught:
        normalize_phone("8 (495) 123-45-67", mobile_only=True)
    assert caught.value.code == "phone.invalid"
