"""bcrypt without silent truncation, over a pre-hash keyed with the pepper, in a versioned format."""
import base64
import hashlib
import unicodedata

import bcrypt
import pytest

from idp.passwords import PasswordHasher
from idp.passwords.hashing import PREFIX

PEPPER = "test-pepper-" + "p" * 32


def hasher_of(pepper=PEPPER, rounds=4):
    return PasswordHasher(rounds, pepper)


def legacy_hash(password: str, rounds: int = 4) -> str:
    """A hash as the provider stored it before the pepper: bcrypt over base64(SHA-256(NFC password))."""
    sha = hashlib.sha256(unicodedata.normalize("NFC", password).encode("utf-8")).digest()
    return bcrypt.hashpw(base64.b64encode(sha), bcrypt.gensalt(rounds)).decode("ascii")


def test_long_cyrillic_passwords_differ_after_72_bytes():
    hasher = hasher_of()
    base = "Ab1" + "ж" * 60  # 123 bytes in UTF-8: far past bcrypt's 72
    hashed = hasher.hash(base + "а")
    assert hasher.verify(base + "а", hashed)
    assert not hasher.verify(base + "б", hashed)
    assert not hasher.verify(base, hashed)


def test_hash_is_salted_versioned_and_contains_neither_password_nor_pepper():
    hasher = hasher_of()
    first, second = hasher.hash("Polis2026"), hasher.hash("Polis2026")
    assert first != second and first.startswith(PREFIX + "$2b$04$") and len(first) <= 100  # the column's width
    for hashed in (first, second):
        assert "Polis2026" not in hashed and PEPPER not in hashed and "p" * 8 not in hashed
        assert base64.b64encode(PEPPER.encode()).decode()[:16] not in hashed
    assert PEPPER not in repr(hasher)
    assert not hasher.needs_upgrade(first)


def test_missing_or_malformed_hash_is_a_no():
    hasher = hasher_of()
    assert hasher.verify("Polis2026", None) is False
    assert hasher.verify("Polis2026", "not-a-bcrypt-hash") is False
    assert hasher.verify("Polis2026", PREFIX + "not-a-bcrypt-hash") is False
    assert hasher.verify("Polis2026", "$2b$04$broken") is False
    assert not hasher.needs_upgrade(None) and not hasher.needs_upgrade("not-a-bcrypt-hash")


def test_the_same_letters_typed_composed_or_decomposed_are_one_password():
    hasher = hasher_of()
    composed = "Полис2026йё"  # «й» and «ё» as single code points
    decomposed = unicodedata.normalize("NFD", composed)  # и + breve, е + diaeresis: what some keyboards send
    assert composed != decomposed
    assert hasher.verify(decomposed, hasher.hash(composed)) and hasher.verify(composed, hasher.hash(decomposed))
    assert not hasher.verify("Полис2026ие", hasher.hash(composed))


def test_hash_shucking_fails_a_leaked_unsalted_sha256_does_not_fit_our_hash():
    """An attacker with our database and another site's leak of unsalted SHA-256 hashes tries each leaked
    hash as bcrypt's input, the way the old pre-hash was made: against the peppered hash, none fits."""
    password = "Polis2026"
    leaked = hashlib.sha256(password.encode("utf-8")).digest()  # what the other site's dump holds
    hashed = hasher_of().hash(password)
    bare = hashed[len(PREFIX):].encode("ascii")
    for candidate in (base64.b64encode(leaked), leaked.hex().encode(), leaked):
        assert not bcrypt.checkpw(candidate, bare)
    # The same attack against a legacy hash does succeed: that is the finding this format closes.
    assert bcrypt.checkpw(base64.b64encode(leaked), legacy_hash(password).encode("ascii"))


def test_a_different_pepper_fails_verification():
    hashed = hasher_of().hash("Polis2026")
    assert hasher_of().verify("Polis2026", hashed)
    assert not hasher_of(pepper="another-pepper-" + "q" * 32).verify("Polis2026", hashed)


def test_a_legacy_hash_still_verifies_and_asks_for_an_upgrade():
    hasher = hasher_of()
    old = legacy_hash("Полис2026й")
    assert hasher.needs_upgrade(old)
    assert hasher.verify("Полис2026й", old) and hasher.verify(unicodedata.normalize("NFD", "Полис2026й"), old)
    assert not hasher.verify("Полис2026и", old)
    upgraded = hasher.hash("Полис2026й")
    assert upgraded.startswith(PREFIX) and not hasher.needs_upgrade(upgraded)
    assert hasher.verify("Полис2026й", upgraded)


def test_a_hasher_needs_a_pepper():
    with pytest.raises(ValueError):
        PasswordHasher(4, "")


def test_burn_costs_what_a_real_check_costs(monkeypatch):
    """An unknown login (``verify`` against nothing) does the same work as a known one: the same peppered
    pre-hash and one bcrypt check at the configured cost."""
    hasher = hasher_of(rounds=5)
    stored = hasher.hash("Polis2026")
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, h: calls.append((pw, h[:7])) or real(pw, h))
    assert hasher.verify("Wrong2026", stored) is False
    assert hasher.verify("Wrong2026", None) is False
    (known_input, known_cost), (unknown_input, unknown_cost) = calls
    assert known_input == unknown_input and known_cost == unknown_cost == b"$2b$05$"
