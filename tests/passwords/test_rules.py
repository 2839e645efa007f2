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


CONTROL = "password.rule.control"


@pytest.mark.parametrize("password", [
    "Aa1\x00aaaa",  # NUL (the review's example)
    "Aa1\taaaa",  # tab
    "Aa1aaaa\n", "Aa1\raaaa", "\x1bAa1aaaa", "Aa1aaaa\x7f", "Aa1\x85aaaa",  # LF, CR, ESC, DEL, C1 NEL
    "Aa1\u200baaaa", "Aa1\u200daaaa", "Aa1\u00adaaaa", "\ufeffAa1aaaa", "Aa1\u202eaaaa",  # Cf: ZWSP, ZWJ, SHY, BOM, RLO
    "Aa1\u2028aaaa", "Aa1\u2029aaaa",  # line and paragraph separators
    "Aa1\ud800aaaa",  # a lone surrogate (no UTF-8 form)
    "Aa1" + "ж" * 60 + "\x00",  # the last of 64 characters
])
def test_control_and_invisible_characters_are_refused_on_their_own(password):
    assert broken_rules(password) == [CONTROL]


def test_control_characters_are_reported_with_the_other_broken_rules():
    assert broken_rules("\x00") == [LEN, UP, LOW, DIG, CONTROL]
    assert broken_rules("Ab1\t" + "x" * 300) == ["password.rule.max_length", CONTROL]


@pytest.mark.parametrize("password", [
    "Polis 2026",  # a space
    "Polis\u00a02026",  # a no-break space (Zs, as some keyboards type it)
    "Пароль-Polis-2026",  # Cyrillic and punctuation
    "Polis2026\ue000",  # a private-use character
    "Polis2026😀🇷🇺",  # emoji (a flag is two regional indicators, So)
    "Polis2026e\u0301",  # a combining mark (Mn)
])
def test_visible_characters_stay_allowed(password):
    assert broken_rules(password) == []
