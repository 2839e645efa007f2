"""The seed's password rules, as a list of small validators; every broken rule is reported together.

Rules (seed, «Изменение пароля»): at least 8 characters; at least one uppercase Latin letter; at least
one lowercase Latin letter; at least one digit. Other characters (Cyrillic included) are allowed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

MIN_LENGTH = 8
#: Generous but bounded: hashing a megabyte on every sign-in would be a denial-of-service lever.
MAX_LENGTH = 256


@dataclass(frozen=True)
class Rule:
    code: str  # stable text code, e.g. "password.rule.length"
    check: Callable[[str], bool]


RULES: tuple[Rule, ...] = (
    Rule("password.rule.length", lambda p: len(p) >= MIN_LENGTH),
    Rule("password.rule.upper", lambda p: re.search(r"[A-Z]", p) is not None),
    Rule("password.rule.lower", lambda p: re.search(r"[a-z]", p) is not None),
    Rule("password.rule.digit", lambda p: re.search(r"[0-9]", p) is not None),
)


def broken_rules(password: str) -> list[str]:
    """Codes of every rule ``password`` breaks, in the order the page lists them (empty: it is fine)."""
    codes = [rule.code for rule in RULES if not rule.check(password)]
    if len(password) > MAX_LENGTH:
        codes.append("password.rule.max_length")
    return codes
