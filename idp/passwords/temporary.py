"""Drawing temporary passwords: 8 characters a customer can retype from an SMS.

Mixed-case Latin letters and digits from :mod:`secrets`, without look-alikes (0/O/o, 1/l/I), and always
meeting the password rules (an uppercase and a lowercase letter and a digit).
"""
from __future__ import annotations

import secrets

from idp.passwords.rules import broken_rules

LENGTH = 8
UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
LOWER = "abcdefghijkmnpqrstuvwxyz"  # no l, o
DIGITS = "23456789"  # no 0, 1
ALPHABET = UPPER + LOWER + DIGITS


def generate() -> str:
    """A fresh temporary password; rejection sampling keeps the distribution uniform over valid strings."""
    while True:
        candidate = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if not broken_rules(candidate):
            return candidate
