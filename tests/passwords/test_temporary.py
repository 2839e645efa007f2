"""Temporary passwords: 8 characters, mixed case and digits, no look-alikes, meeting the rules."""
import collections

from idp.passwords import broken_rules
from idp.passwords.temporary import ALPHABET, generate


def test_shape_and_rules_over_many_draws():
    drawn = [generate() for _ in range(2000)]
    assert all(len(p) == 8 and not broken_rules(p) and set(p) <= set(ALPHABET) for p in drawn)
    assert not set("0Oo1lI") & set(ALPHABET)
    assert len(set(drawn)) == len(drawn)


def test_every_character_of_the_alphabet_appears():
    counts = collections.Counter("".join(generate() for _ in range(3000)))
    assert set(counts) == set(ALPHABET)
