"""bcrypt without silent truncation: every character of a long Cyrillic password counts."""
import unicodedata

from idp.passwords import PasswordHasher


def test_long_cyrillic_passwords_differ_after_72_bytes():
    hasher = PasswordHasher(4)
    base = "Ab1" + "ж" * 60  # 123 bytes in UTF-8: far past bcrypt's 72
    hashed = hasher.hash(base + "а")
    assert hasher.verify(base + "а", hashed)
    assert not hasher.verify(base + "б", hashed)
    assert not hasher.verify(base, hashed)


def test_hash_is_salted_and_not_the_password():
    hasher = PasswordHasher(4)
    first, second = hasher.hash("Polis2026"), hasher.hash("Polis2026")
    assert first != second and "Polis2026" not in first and first.startswith("$2b$04$")


def test_missing_or_malformed_hash_is_a_no():
    hasher = PasswordHasher(4)
    assert hasher.verify("Polis2026", None) is False
    assert hasher.verify("Polis2026", "not-a-bcrypt-hash") is False


def test_the_same_letters_typed_composed_or_decomposed_are_one_password():
    hasher = PasswordHasher(rounds=4)
    composed = "Полис2026йё"  # «й» and «ё» as single code points
    decomposed = unicodedata.normalize("NFD", composed)  # и + breve, е + diaeresis: what some keyboards send
    assert composed != decomposed
    assert hasher.verify(decomposed, hasher.hash(composed)) and hasher.verify(composed, hasher.hash(decomposed))
    assert not hasher.verify("Полис2026ие", hasher.hash(composed))
