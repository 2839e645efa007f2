"""The seed's password rules, as a list of small validators; every broken rule is reported together.

Rules (seed, «Изменение пароля»): at least 8 characters; at least one uppercase Latin letter; at least
one lowercase Latin letter; at least one digit. Other characters (Cyrillic included) are allowed.

Two limits of our own come after them (:data:`LIMITS`), reported the same way, each with its own
message, but not in the page's checklist of rules (a customer typing a password meets neither):

* at most :data:`MAX_LENGTH` characters;
* no control or invisible characters (:data:`FORBIDDEN_CATEGORIES`): NUL, tab, line breaks, DEL and
  the rest of Unicode's control characters (Cc); format characters (Cf: zero-width space and joiners,
  soft hyphen, bidirectional overrides, the byte-order mark); the line and paragraph separators (Zl,
  Zp); and lone surrogates (Cs, which have no UTF-8 form). None can be typed into a password field;
  they come from a paste or a crafted request, cannot be seen even with the eye pressed, differ
  between keyboards and clipboards (a password copied with a soft hyphen or a bidirectional mark could
  never be typed again), and a NUL cuts a C string. Spaces (the no-break space included), letters of
  any script, private-use and emoji characters stay allowed (an emoji joined with a zero-width joiner,
  a Cf character, does not).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

MIN_LENGTH = 8
#: Generous but bounded: hashing a megabyte on every sign-in would be a denial-of-service lever.
MAX_LENGTH = 256
#: Unicode general categories no password may contain (see the module's documentation).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class Rule:
    code: str  # stable text code, e.g. "password.rule.length"
    check: Callable[[str], bool]


def has_no_control_characters(password: str) -> bool:
    """Whether ``password`` is free of the characters of :data:`FORBIDDEN_CATEGORIES`."""
    # str.isprintable() is False for every forbidden character (and for a few allowed ones: the
    # no-break space, private-use and unassigned code points), so a printable password needs no walk.
    return password.isprintable() or not any(
        unicodedata.category(character) in FORBIDDEN_CATEGORIES for character in password)


#: The seed's rules: the page's checklist (and its live check in templates/static/idp.js) shows these.
RULES: tuple[Rule, ...] = (
    Rule("password.rule.length", lambda p: len(p) >= MIN_LENGTH),
    Rule("password.rule.upper", lambda p: re.search(r"[A-Z]", p) is not None),
    Rule("password.rule.lower", lambda p: re.search(r"[a-z]", p) is not None),
    Rule("password.rule.digit", lambda p: re.search(r"[0-9]", p) is not None),
)

#: Our limits: reported after the seed's rules, each with its own message, not in the checklist.
LIMITS: tuple[Rule, ...] = (
    Rule("password.rule.max_length", lambda p: len(p) <= MAX_LENGTH),
    Rule("password.rule.control", has_no_control_characters),
)


_ALL = RULES + LIMITS


def broken_rules(password: str) -> list[str]:
    """Codes of every rule ``password`` breaks, in the order the page lists them (empty: it is fine)."""
    return [rule.code for rule in _ALL if not rule.check(password)]
