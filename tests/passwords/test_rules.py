"""The seed's password rules: each broken rule is reported, all at once."""
import pytest

from idp.passwords import broken_rules

LEN, UP, LOW, DIG = ("password.rule.length", "password.rule.upper", "password.rule.lower", "password.rule.digit")


@pytest.mark.parametrize("password, broken", [
    ("Polis2026", []),
    ("Aa345678", []),
    ("Aa34567", [LEN]),
    ("polis2026", [UP]),
    ("POLIS2026", [LOW]),
    ("PolisPolis", [DIG]),
    ("", [LEN, UP, LOW, DIG]),
    ("abc", [LEN, UP, DIG]),
    ("ПАРОЛЬпароль1", [UP, LOW]),  # Cyrillic letters are allowed but are not Latin
    ("Пароль-Polis-2026-" * 3, []),
    ("Ab1" + "я" * 61, []),  # 64 characters, mostly Cyrillic
    ("Ab1" + "x" * 300, ["password.rule.max_length"]),
])
def test_rules(password, broken):
    assert broken_rules(password) == broken
